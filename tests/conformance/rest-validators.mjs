// Which Rocket.Chat request validator checks which endpoint, per rest-typings release.
//
// Releases: 6.13.1 (alias `rest-typings-6`, the 6.14 baseline of the reference), 7.10.0 (alias
// `rest-typings-7`, closest published to the 7.7.1 the site runs; npm has no 7.x core-typings, so
// package.json overrides its core-typings to 8.8.1: only the index needs it, the files below do not)
// and 8.8.1 (pulled in by @rocket.chat/api-client).
//
// Only validators that Rocket.Chat's REST server actually applies to the route are listed (a schema
// the route never runs would flag requests Rocket.Chat accepts). Sources, apps/meteor/app/api/server/
// v1/*.ts: channels.ts applies isChannelsKickProps/RolesProps/ListProps/ModeratorsProps, and (issue 11)
// isChannelsDelete/Join/Leave/AddAll/Archive/Unarchive/SetReadOnly/SetAnnouncementProps through
// `validateParams` (7.x copy; the 6.13.1 schemas are byte-identical and the routes are modelled the same
// in both compat modes), but not to channels.create (own validator), channels.invite (getUserListFromParams,
// multi-user `userIds` works; isChannelsInviteProps is not even exported from the package index),
// add/removeModerator/Owner/Leader, members, info, setDefault, rename, setType, setDescription/Topic/
// Purpose, setJoinCode, counters. rooms.ts applies isRoomsMembersOrderedByRoleProps (route new in 7.3) but
// no schema to rooms.info/adminRooms/delete; users.ts applies isUsersListStatusProps to users.listByStatus
// (not to users.presence or the personal-access-token routes). groups.ts of 6.14/7.x has no validateParams
// on the routes a bridge uses; 8.x typed routes validate groups.create/info/invite/list/roles.
// users.ts applies the users.* schemas (additionalProperties:false, reference §3.2-3.7), roles.ts
// the add/remove ones (error-invalid-role-properties; roles.getUsersInRole has no validator in 6.x/7.x),
// misc.ts method.call checks isMeteorCall and then isMethodCallProps on the parsed message (failure
// 'Invalid method call'), permissions.ts checks isBodyParamsValidPermissionUpdate in the handler
// (error-invalid-body-params; the file left rest-typings after 6.x), subscriptions.ts validates
// subscriptions.get, settings.ts dispatches on isSettingsUpdatePropDefault and (7.x) validates `GET settings`
// (isSettingsGetParams) and `settings.public` (isSettingsPublicWithPaginationProps); 6.13.1 has neither.
// settings.addCustomOAuth and the EE roles.update have no rest-typings schema. rooms.info has no schema.
// Known upstream defect, left out: 6.13.1 v1/channels/ChannelsSetDefaultProps.js does not compile.

import { pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export const RELEASES = {
	'6.13.1': 'rest-typings-6',
	'7.10.0': 'rest-typings-7',
	'8.8.1': '@rocket.chat/rest-typings',
};

const ALL = ['6.13.1', '7.10.0', '8.8.1'];
const ONLY_6 = ['6.13.1'];
const ONLY_8 = ['8.8.1'];
const FROM_7 = ['7.10.0', '8.8.1'];
const SINCE_7 = FROM_7;

// [endpoint key, where the parameters are, [file, export, releases, JSON-string field to parse?]...]
// Keys are "METHOD /v1/route"; `:param` segments match one path segment.
export const TABLE = [
	['POST /v1/users.register', 'body', ['v1/users/UserRegisterParamsPOST.js', 'isUserRegisterParamsPOST', ALL]],
	['POST /v1/users.create', 'body', ['v1/users/UserCreateParamsPOST.js', 'isUserCreateParamsPOST', ALL]],
	['POST /v1/users.update', 'body', ['v1/users/UsersUpdateParamsPOST.js', 'isUsersUpdateParamsPOST', ALL]],
	['GET /v1/users.info', 'query', ['v1/users/UsersInfoParamsGet.js', 'isUsersInfoParamsGetProps', ALL]],
	['GET /v1/users.list', 'query', ['v1/users/UsersListParamsGET.js', 'isUsersListParamsGET', ONLY_8]],
	['POST /v1/users.setActiveStatus', 'body', ['v1/users/UserSetActiveStatusParamsPOST.js', 'isUserSetActiveStatusParamsPOST', ALL]],
	['POST /v1/roles.addUserToRole', 'body', ['v1/roles.js', 'isRoleAddUserToRoleProps', ALL]],
	['POST /v1/roles.removeUserFromRole', 'body', ['v1/roles.js', 'isRoleRemoveUserFromRoleProps', ALL]],
	['POST /v1/roles.delete', 'body', ['v1/roles.js', 'isRoleDeleteProps', ALL]],
	['POST /v1/channels.kick', 'body', ['v1/channels/ChannelsKickProps.js', 'isChannelsKickProps', ALL]],
	['GET /v1/channels.list', 'query', ['v1/channels/ChannelsListProps.js', 'isChannelsListProps', ALL]],
	['GET /v1/channels.roles', 'query', ['v1/channels/ChannelsRolesProps.js', 'isChannelsRolesProps', ALL]],
	['GET /v1/channels.moderators', 'query', ['v1/channels/ChannelsModeratorsProps.js', 'isChannelsModeratorsProps', ALL]],
	['POST /v1/channels.delete', 'body', ['v1/channels/ChannelsDeleteProps.js', 'isChannelsDeleteProps', ALL]],
	['POST /v1/channels.join', 'body', ['v1/channels/ChannelsJoinProps.js', 'isChannelsJoinProps', ALL]],
	['POST /v1/channels.leave', 'body', ['v1/channels/ChannelsLeaveProps.js', 'isChannelsLeaveProps', ALL]],
	['POST /v1/channels.addAll', 'body', ['v1/channels/ChannelsAddAllProps.js', 'isChannelsAddAllProps', ALL]],
	['POST /v1/channels.archive', 'body', ['v1/channels/ChannelsArchiveProps.js', 'isChannelsArchiveProps', ALL]],
	['POST /v1/channels.unarchive', 'body', ['v1/channels/ChannelsUnarchiveProps.js', 'isChannelsUnarchiveProps', ALL]],
	['POST /v1/channels.setReadOnly', 'body', ['v1/channels/ChannelsSetReadOnlyProps.js', 'isChannelsSetReadOnlyProps', ALL]],
	['POST /v1/channels.setAnnouncement', 'body', ['v1/channels/ChannelsSetAnnouncementProps.js', 'isChannelsSetAnnouncementProps', ALL]],
	['GET /v1/users.listByStatus', 'query', ['v1/users/UsersListStatusParamsGET.js', 'isUsersListStatusProps', ALL]],
	['GET /v1/rooms.membersOrderedByRole', 'query', ['v1/rooms.js', 'isRoomsMembersOrderedByRoleProps', SINCE_7]],
	['POST /v1/groups.create', 'body', ['v1/groups/GroupsCreateProps.js', 'isGroupsCreateProps', ONLY_8]],
	['GET /v1/groups.info', 'query', ['v1/groups/GroupsInfoProps.js', 'isGroupsInfoProps', ONLY_8]],
	['POST /v1/groups.invite', 'body', ['v1/groups/GroupsInviteProps.js', 'isGroupsInviteProps', ONLY_8]],
	['GET /v1/groups.list', 'query', ['v1/groups/GroupsListProps.js', 'isGroupsListProps', ONLY_8]],
	['GET /v1/groups.roles', 'query', ['v1/groups/GroupsRolesProps.js', 'isGroupsRolesProps', ONLY_8]],
	['GET /v1/subscriptions.get', 'query', ['v1/subscriptionsEndpoints.js', 'isSubscriptionsGetProps', ALL]],
	['GET /v1/subscriptions.getOne', 'query', ['v1/subscriptionsEndpoints.js', 'isSubscriptionsGetOneProps', ALL]],
	['POST /v1/permissions.update', 'body', ['v1/permissions.js', 'isBodyParamsValidPermissionUpdate', ONLY_6]],
	['POST /v1/settings/:_id', 'body', ['v1/settings.js', 'isSettingsUpdatePropDefault', ALL]],
	['GET /v1/settings', 'query', ['v1/settings.js', 'isSettingsGetParams', FROM_7]],
	['GET /v1/settings.public', 'query', ['v1/settings.js', 'isSettingsPublicWithPaginationProps', FROM_7]],
	['POST /v1/method.call/:method', 'body', ['v1/misc.js', 'isMeteorCall', ALL], ['v1/misc.js', 'isMethodCallProps', ALL, 'message']],
	['POST /v1/method.callAnon/:method', 'body', ['v1/misc.js', 'isMeteorCall', ALL], ['v1/misc.js', 'isMethodCallAnonProps', ALL, 'message']],
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
