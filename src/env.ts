// Environment variables read the same way in Node.js, Bun and Deno. Deno without --allow-env refuses
// them (NotCapable, or a permission prompt in a terminal): there a variable reads as unset instead of
// failing a model load, and nothing prompts (docs/runtimes.md).

interface DenoPermissions {
  permissions?: { querySync?(d: { name: 'env' }): { state: string } };
}

/** Whether the environment can be read without asking: false only in a Deno not granted --allow-env. */
export function envReadable(): boolean {
  const deno = (globalThis as { Deno?: DenoPermissions }).Deno;
  try {
    return deno?.permissions?.querySync ? deno.permissions.querySync({ name: 'env' }).state === 'granted' : true;
  } catch {
    return true;
  }
}

/** An environment variable, or undefined where it is unset, there is no environment (a browser), or reading it is not allowed. */
export function envVar(name: string): string | undefined {
  if (typeof process === 'undefined' || !envReadable()) return undefined;
  try {
    return process.env?.[name];
  } catch {
    return undefined;
  }
}
