// Loads uWebSockets.js and tells whether the native binary is the one in use.
//
// The republished package we install catches a failed native load, prints a warning and
// returns a slow pure-JS shim with the same API. We never want to run on that by accident, so
// the binary's path is checked in the module cache and the server refuses to start on the shim.
import { createRequire } from 'node:module';
import type * as Uws from 'uWebSockets.js';

const require = createRequire(import.meta.url);

export const uws = require('uWebSockets.js') as typeof Uws;

/** Where the native binary for this platform and Node ABI lives, whether it loaded or not. */
export const nativeBinaryName = `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`;

/** The loaded native binary's path, or undefined when uWS runs on its JS fallback. */
export function loadedNativeBinary(): string | undefined {
  return Object.keys(require.cache).find((path) => path.endsWith(nativeBinaryName));
}

export function isNativeUws(): boolean {
  // A native addon's functions print as `[native code]`; the fallback's are JS source.
  return loadedNativeBinary() !== undefined && /\[native code\]/.test(Function.prototype.toString.call(uws.App));
}
