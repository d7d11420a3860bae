import { runAdapterContract } from './contract-suite';
import { emailHarness } from './email-harness';

runAdapterContract('email (smtp + sendgrid events)', () => emailHarness('sendgrid'));
