import { Keyring, useKeyring } from '../../db/credentials-crypto';

// Every test process encrypts channel credentials with the run's key (see global-setup.ts).
useKeyring(Keyring.fromBase64(process.env.CREDENTIALS_KEY ?? Keyring.generateKey()));
