// People who log in: the user service, the schemas of its inputs, and their factors as administrators see them.
export { checkedEmail, checkedPassword, createUserService, type Account, type UserService, type UserSummary } from './users.ts';
export { factorSummaryView, type FactorSummaryView } from './factors.ts';
export {
  FACTOR_KINDS,
  factorResetSchema,
  MAX_EMAIL_LENGTH,
  MAX_PASSWORD_LENGTH,
  MIN_PASSWORD_LENGTH,
  normalizeEmail,
  password,
  userCreateSchema,
  userPasswordSchema,
  userUpdateSchema,
  type FactorKind,
  type FactorResetInput,
  type UserCreateInput,
  type UserPasswordInput,
  type UserUpdateInput,
} from './schema.ts';
export { PASSWORD_PROBLEM_TEXT, passwordProblem, type PasswordProblem } from './passwordRule.ts';
export { MAX_NAME_LENGTH, nameProblem, type NameProblem } from './names.ts';
