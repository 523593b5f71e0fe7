export * from './secrets.ts';
export * from './sealing.ts';
export * from './keyEncryption.ts';
export * from './passwords.ts';
