// `node --import ./register.mjs ...` installs the resolve hook before any user module loads.
import { register } from 'node:module';

register('./esm-resolve-hook.mjs', import.meta.url);
