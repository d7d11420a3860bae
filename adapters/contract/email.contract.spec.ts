import { runAdapterContract } from './contract-suite';
import { EMAIL_CONTRACT, emailHarness } from './email-harness';

runAdapterContract('email (smtp + sendgrid events)', () => emailHarness('sendgrid'), EMAIL_CONTRACT);
