// wgsl_reflect's package.json points Node's ESM loader at a CommonJS file; we import its ES module
// build by path (which bundlers also pick), and reuse the package's own type declarations.
declare module 'wgsl_reflect/wgsl_reflect.module.js' {
  export * from 'wgsl_reflect';
}
