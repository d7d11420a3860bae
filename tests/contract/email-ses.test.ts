import { runAdapterContract } from './contract-suite';
import { emailHarness } from './email-harness';

// The same adapter verifies a second signature scheme (SNS certificates), so it runs the contract twice.
runAdapterContract('email (smtp + ses events via sns)', () => emailHarness('ses'));
