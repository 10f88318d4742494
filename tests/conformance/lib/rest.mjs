// Thin helpers around the official @rocket.chat/api-client RestClient.
//
// The client resolves with the parsed body on 2xx and rejects with the fetch Response otherwise
// (after its own 2FA retry on a 400 totp-required/totp-invalid). `call` turns both outcomes into
// {status, body, headers} so a check can assert on error shapes too. `recordRequests` captures what
// the client actually put on the wire, so the same bodies can be validated by rest-typings.

import { RestClient } from '@rocket.chat/api-client';

export function newClient(config, credentials) {
	const client = new RestClient({ baseUrl: config.url, credentials });
	return client;
}

/** Log every request the client sends (after the client built it) into `sink`. */
export function recordRequests(client, sink) {
	client.use((context, next) => {
		const [endpoint, method, options = {}] = context;
		const [path, query] = String(endpoint).split('?');
		const entry = { method, path: path.replace(/^\/+/, '/') };
		if (query) {
			entry.query = Object.fromEntries(new URLSearchParams(query));
		}
		if (typeof options.body === 'string') {
			try {
				entry.body = JSON.parse(options.body);
			} catch {
				entry.body = options.body;
			}
		}
		sink.push(entry);
		return next(...context);
	});
}

/** Perform one call and return {status, body, headers}; only network-level failures throw. */
export async function call(client, verb, endpoint, params, options) {
	try {
		const body = verb === 'get' ? await client.get(endpoint, params, options) : await client.post(endpoint, params, options);
		return { status: 200, body, headers: null };
	} catch (err) {
		if (err instanceof Response) {
			const text = await err.text();
			let body = text;
			try {
				body = JSON.parse(text);
			} catch {
				// non-JSON error body stays text
			}
			return { status: err.status, body, headers: err.headers };
		}
		throw err;
	}
}

/** Like `call` but a non-2xx answer or `success: false` throws with status and error code. */
export async function ok(client, verb, endpoint, params, options) {
	const res = await call(client, verb, endpoint, params, options);
	if (res.status !== 200 || (res.body && res.body.success === false)) {
		throw new Error(`${verb.toUpperCase()} ${endpoint} -> ${res.status} ${brief(res.body)}`);
	}
	return res.body;
}

/** Status plus the error fields of a Rocket.Chat error body, for messages (never whole bodies). */
export function brief(body) {
	if (!body || typeof body !== 'object') {
		return JSON.stringify(body);
	}
	const { success, status, error, errorType, message } = body;
	return JSON.stringify({ success, status, error, errorType, message });
}
