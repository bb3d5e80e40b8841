export {
  type AuthorizedKeysParse,
  parseAuthorizedKeys,
  sshFingerprint,
} from "./authorized-keys.js";
export { LASTLOG_RECORD_SIZE, type LastlogParse, parseLastlog } from "./lastlog.js";
export {
  classifyPassword,
  isLoginShell,
  mergeUsers,
  parseGroup,
  parsePasswd,
  parseShadow,
} from "./passwd.js";
export { type ReadAccountsOptions, readAccounts, usersByUid } from "./read-accounts.js";
export { RootFs } from "./root-fs.js";
export { parseSudoers, readSudoers } from "./sudoers.js";
export { parseUtmp, UTMP_RECORD_SIZE, UTMP_TYPES, type UtmpParse } from "./utmp.js";
