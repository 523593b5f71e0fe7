// Configuration: the environment variables, read, checked and documented in one place.
export { ConfigError, configVariables, developmentSecrets, loadConfig, renderEnvExample, secretVariables, type Config } from './config.ts';
