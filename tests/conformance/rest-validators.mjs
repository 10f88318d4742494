// Which Rocket.Chat request validator checks which endpoint, in each rest-typings release we install.
//
// `baseline` is @rocket.chat/rest-typings 6.13.1 (installed as the alias `rest-typings-6`; the
// 6.14 baseline contract of the reference), `current` is 8.8.1 (what @rocket.chat/api-client pulls
// in). Each entry names the dist file and export; several validators are not re-exported from the
// package index (e.g. isChannelsInviteProps), so files are imported directly. An endpoint missing
// from a release means Rocket.Chat validates it in server code that is not published on npm.
//
// Known defects upstream, deliberately left out: rest-typings 6.13.1
// v1/channels/ChannelsSetDefaultProps.js does not compile (its second branch has `type: 'default'`).

import { pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export const RELEASES = {
	'6.13.1': 'rest-typings-6',
	'8.8.1': '@rocket.chat/rest-typings',
};

const BOTH = ['6.13.1', '8.8.1'];
const ONLY_6 = ['6.13.1'];
const ONLY_8 = ['8.8.1'];

// [endpoint key, where the parameters are, [file, export, releases, JSON-string field to parse?]...]
// Keys are "METHOD /v1/route"; `:param` segments match one path segment.
export const TABLE = [
	['POST /v1/login', 'body', ['v1/auth.js', 'isLoginProps', BOTH]],
	['POST /v1/users.register', 'body', ['v1/users/UserRegisterParamsPOST.js', 'isUserRegisterParamsPOST', BOTH]],
	['POST /v1/users.create', 'body', ['v1/users/UserCreateParamsPOST.js', 'isUserCreateParamsPOST', BOTH]],
	['POST /v1/users.update', 'body', ['v1/users/UsersUpdateParamsPOST.js', 'isUsersUpdateParamsPOST', BOTH]],
	['GET /v1/users.info', 'query', ['v1/users/UsersInfoParamsGet.js', 'isUsersInfoParamsGetProps', BOTH]],
	['GET /v1/users.list', 'query', ['v1/users/UsersListParamsGET.js', 'isUsersListParamsGET', ONLY_8]],
	['POST /v1/users.setActiveStatus', 'body', ['v1/users/UserSetActiveStatusParamsPOST.js', 'isUserSetActiveStatusParamsPOST', BOTH]],
	['POST /v1/roles.addUserToRole', 'body', ['v1/roles.js', 'isRoleAddUserToRoleProps', BOTH]],
	['POST /v1/roles.removeUserFromRole', 'body', ['v1/roles.js', 'isRoleRemoveUserFromRoleProps', BOTH]],
	['GET /v1/roles.getUsersInRole', 'query', ['v1/roles.js', 'isRolesGetUsersInRoleProps', BOTH]],
	['POST /v1/roles.delete', 'body', ['v1/roles.js', 'isRoleDeleteProps', BOTH]],
	['POST /v1/channels.create', 'body', ['v1/channels/ChannelsCreateProps.js', 'isChannelsCreateProps', BOTH]],
	['POST /v1/channels.invite', 'body', ['v1/channels/ChannelsInviteProps.js', 'isChannelsInviteProps', BOTH]],
	['POST /v1/channels.kick', 'body', ['v1/channels/ChannelsKickProps.js', 'isChannelsKickProps', BOTH]],
	['GET /v1/channels.list', 'query', ['v1/channels/ChannelsListProps.js', 'isChannelsListProps', BOTH]],
	['GET /v1/channels.roles', 'query', ['v1/channels/ChannelsRolesProps.js', 'isChannelsRolesProps', BOTH]],
	['GET /v1/channels.moderators', 'query', ['v1/channels/ChannelsModeratorsProps.js', 'isChannelsModeratorsProps', BOTH]],
	['POST /v1/groups.create', 'body', ['v1/groups/GroupsCreateProps.js', 'isGroupsCreateProps', BOTH]],
	['GET /v1/groups.info', 'query', ['v1/groups/GroupsInfoProps.js', 'isGroupsInfoProps', BOTH]],
	['GET /v1/groups.members', 'query', ['v1/groups/GroupsMembersProps.js', 'isGroupsMembersProps', BOTH]],
	['POST /v1/groups.invite', 'body', ['v1/groups/GroupsInviteProps.js', 'isGroupsInviteProps', BOTH]],
	['POST /v1/groups.kick', 'body', ['v1/groups/GroupsKickProps.js', 'isGroupsKickProps', BOTH]],
	['GET /v1/groups.list', 'query', ['v1/groups/GroupsListProps.js', 'isGroupsListProps', BOTH]],
	['POST /v1/groups.addModerator', 'body', ['v1/groups/GroupsAddModeratorProps.js', 'isGroupsAddModeratorProps', BOTH]],
	['POST /v1/groups.removeModerator', 'body', ['v1/groups/GroupsRemoveModeratorProps.js', 'isGroupsRemoveModeratorProps', BOTH]],
	['POST /v1/groups.addOwner', 'body', ['v1/groups/GroupsAddOwnerProps.js', 'isGroupsAddOwnerProps', BOTH]],
	['POST /v1/groups.removeOwner', 'body', ['v1/groups/GroupsRemoveOwnerProps.js', 'isGroupsRemoveOwnerProps', BOTH]],
	['POST /v1/groups.addLeader', 'body', ['v1/groups/GroupsAddLeaderProps.js', 'isGroupsAddLeaderProps', BOTH]],
	['POST /v1/groups.removeLeader', 'body', ['v1/groups/GroupsRemoveLeaderProps.js', 'isGroupsRemoveLeaderProps', BOTH]],
	['GET /v1/groups.roles', 'query', ['v1/groups/GroupsRolesProps.js', 'isGroupsRolesProps', BOTH]],
	['GET /v1/rooms.info', 'query', ['v1/rooms.js', 'isRoomsInfoProps', BOTH]],
	['GET /v1/subscriptions.get', 'query', ['v1/subscriptionsEndpoints.js', 'isSubscriptionsGetProps', BOTH]],
	['GET /v1/subscriptions.getOne', 'query', ['v1/subscriptionsEndpoints.js', 'isSubscriptionsGetOneProps', BOTH]],
	['GET /v1/permissions.listAll', 'query', ['v1/permissions.js', 'isPermissionsListAll', ONLY_6]],
	['POST /v1/permissions.update', 'body', ['v1/permissions.js', 'isBodyParamsValidPermissionUpdate', ONLY_6]],
	['POST /v1/settings/:_id', 'body', ['v1/settings.js', 'isSettingsUpdatePropDefault', BOTH]],
	// method.call: the body is {message: EJSON string}, and the parsed message is a DDP method
	// frame (apps/meteor/app/api/server/v1/misc.ts checks both).
	['POST /v1/method.call/:method', 'body', ['v1/misc.js', 'isMeteorCall', BOTH], ['v1/misc.js', 'isMethodCallProps', BOTH, 'message']],
	['POST /v1/method.callAnon/:method', 'body', ['v1/misc.js', 'isMeteorCall', BOTH], ['v1/misc.js', 'isMethodCallAnonProps', BOTH, 'message']],
];

const require = createRequire(import.meta.url);

function distDir(pkg) {
	return join(dirname(require.resolve(`${pkg}/package.json`)), 'dist');
}

/** Load every validator of the table: Map(endpoint key -> {where, validators: [{release, name, fn}]}). */
export async function loadValidators() {
	const byKey = new Map();
	for (const [key, where, ...specs] of TABLE) {
		const validators = [];
		for (const [file, name, releases, parseField] of specs) {
			for (const release of releases) {
				const mod = await import(pathToFileURL(join(distDir(RELEASES[release]), file)).href);
				if (typeof mod[name] !== 'function') {
					throw new Error(`${RELEASES[release]}/dist/${file} has no function ${name}`);
				}
				validators.push({ release, name: parseField ? `${name}(${parseField})` : name, fn: mod[name], parseField });
			}
		}
		byKey.set(key, { where, validators, pattern: keyPattern(key) });
	}
	return byKey;
}

function keyPattern(key) {
	const escaped = key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/:[A-Za-z_]+/g, '[^/]+');
	return new RegExp(`^${escaped}$`);
}

/** The table entry for a request, by "METHOD /v1/route" (a leading /api is ignored). */
export function lookup(validators, method, path) {
	const key = `${String(method).toUpperCase()} ${String(path).replace(/^\/api(?=\/)/, '')}`;
	if (validators.has(key)) {
		return { key, entry: validators.get(key) };
	}
	for (const [candidate, entry] of validators) {
		if (entry.pattern.test(key)) {
			return { key: candidate, entry };
		}
	}
	return { key, entry: null };
}

/** Run one validator on a copy of `params` (ajv may coerce in place); errors as short strings. */
export function runValidator(validator, params) {
	let copy = structuredClone(params ?? {});
	if (validator.parseField) {
		try {
			copy = JSON.parse(copy[validator.parseField]);
		} catch {
			return { release: validator.release, validator: validator.name, valid: false, errors: [`/${validator.parseField} is not a JSON string`] };
		}
	}
	const valid = Boolean(validator.fn(copy));
	const errors = valid ? [] : (validator.fn.errors || [{ message: 'type guard returned false' }]).map(formatError);
	return { release: validator.release, validator: validator.name, valid, errors };
}

function formatError(err) {
	const where = err.instancePath || '/';
	const extra = err.params && err.params.additionalProperty ? ` '${err.params.additionalProperty}'` : '';
	return `${where} ${err.message || err.keyword}${extra}`;
}
