import type { Db } from './client';
import { accounts } from './schema';
import { uuidv7 } from './uuidv7';

export async function createAccount(db: Db, name: string): Promise<{ id: string; name: string }> {
  const id = uuidv7();
  await db.insert(accounts).values({ id, name });
  return { id, name };
}
