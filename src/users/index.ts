// People who log in: the user service and the schemas of its inputs.
export { checkedEmail, checkedPassword, createUserService, type Account, type UserService, type UserSummary } from './users.ts';
export {
  MAX_EMAIL_LENGTH,
  MAX_PASSWORD_LENGTH,
  MIN_PASSWORD_LENGTH,
  normalizeEmail,
  password,
  userCreateSchema,
  userPasswordSchema,
  type UserCreateInput,
  type UserPasswordInput,
} from './schema.ts';
export { PASSWORD_PROBLEM_TEXT, passwordProblem, type PasswordProblem } from './passwordRule.ts';
export { MAX_NAME_LENGTH, nameProblem, type NameProblem } from './names.ts';
