export { createUserService, type Account, type UserService, type UserSummary } from './users.ts';
