export { ConfigError, configVariables, developmentSecrets, loadConfig, renderEnvExample, type Config } from './config.ts';
