// Mail to people: composed from templates in their language (compose.ts), written to the outbox
// with the action it belongs to and sent after commit (outbox.ts, which also resolves the intents
// written before an answer), over SMTP or, in development, to .eml files (transport.ts).
export { composeMail, type ComposeInput } from './compose.ts';
export { createOutbox, RETRY_DELAYS_SECONDS, type IntentHandler, type Outbox } from './outbox.ts';
export { createTransport, type Mail, type MailTransport } from './transport.ts';
