// ESM resolve hook for @rocket.chat/rest-typings (and the core-typings it imports).
//
// Why: rest-typings ships its dist/ as ES modules written for a bundler: `export * from './apps'`
// and `'./v1/roles'` with no file extension and directory imports. Node's ESM loader refuses both
// (ERR_MODULE_NOT_FOUND / ERR_UNSUPPORTED_DIR_IMPORT); it also deep-imports CommonJS files such as
// `ajv/dist/2020`. This hook retries a failed relative or deep (package/subpath) specifier with
// `.js`, then `/index.js`, the way a bundler would; everything else is untouched.
// Registered by ./register.mjs (`node --import ./register.mjs script.mjs`).

const RETRYABLE = new Set(['ERR_MODULE_NOT_FOUND', 'ERR_UNSUPPORTED_DIR_IMPORT']);

export async function resolve(specifier, context, nextResolve) {
	try {
		return await nextResolve(specifier, context);
	} catch (err) {
		if (!isExtensionless(specifier) || !RETRYABLE.has(err?.code)) {
			throw err;
		}
		for (const suffix of ['.js', '/index.js']) {
			try {
				return await nextResolve(specifier + suffix, context);
			} catch {
				// try the next spelling, then give up with the original error
			}
		}
		throw err;
	}
}

/** A relative path or a package subpath (`ajv/dist/2020`, `@scope/pkg/x`) without a file extension. */
function isExtensionless(specifier) {
	if (specifier.startsWith('node:') || /\.[cm]?js$|\.json$/.test(specifier)) {
		return false;
	}
	if (specifier.startsWith('./') || specifier.startsWith('../')) {
		return true;
	}
	const parts = specifier.split('/');
	return parts.length > (specifier.startsWith('@') ? 2 : 1);
}
