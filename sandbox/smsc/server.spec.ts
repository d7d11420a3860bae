import * as smpp from 'smpp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startSmsc, type SmscPeer } from './server';
import { MESSAGE_STATE, STATUS } from './wire';

// The peer is driven by the `smpp` package's client session: real PDUs over a real socket.

const ACCOUNT = { systemId: 'esme', password: 'secret1' };

interface Client {
  session: smpp.Session;
  /** Sends a PDU and resolves with its response. */
  call(command: string, fields?: Record<string, unknown>): Promise<smpp.PDU>;
  /** deliver_sm PDUs received (each answered with deliver_sm_resp). */
  delivered: smpp.PDU[];
  close(): Promise<void>;
}

async function client(peer: SmscPeer): Promise<Client> {
  const session = await new Promise<smpp.Session>((resolve, reject) => {
    const s = smpp.connect({ host: peer.host, port: peer.port }, () => resolve(s));
    s.once('error', reject);
  });
  const delivered: smpp.PDU[] = [];
  session.on('deliver_sm', (pdu: smpp.PDU) => {
    delivered.push(pdu);
    session.send(pdu.response());
  });
  return {
    session,
    delivered,
    call: (command, fields = {}) =>
      new Promise((resolve) => {
        session.send(new smpp.PDU(command, fields), resolve);
      }),
    close: () =>
      new Promise((resolve) => {
        if (session.socket.destroyed) return resolve();
        session.destroy(() => resolve());
      }),
  };
}

const bound = async (peer: SmscPeer, command = 'bind_transceiver') => {
  const c = await client(peer);
  const resp = await c.call(command, { system_id: ACCOUNT.systemId, password: ACCOUNT.password });
  expect(resp.command_status).toBe(STATUS.ESME_ROK);
  return c;
};

const until = async <T>(check: () => T | undefined, ms = 2000): Promise<T> => {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error('condition not met');
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('SMSC peer (SMPP v3.4)', () => {
  let peer: SmscPeer;
  const clients: Client[] = [];
  const open = async (command?: string) => {
    const c = await bound(peer, command);
    clients.push(c);
    return c;
  };

  beforeEach(async () => {
    peer = await startSmsc({ accounts: [ACCOUNT], receiptDelayMs: 5 });
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await peer.close();
  });

  describe('binds', () => {
    it.each([
      ['bind_transceiver', 'transceiver'],
      ['bind_transmitter', 'transmitter'],
      ['bind_receiver', 'receiver'],
    ])('%s with the right credentials binds as %s', async (command, bindType) => {
      await open(command);
      expect(peer.bound()).toEqual([{ session: 1, systemId: 'esme', bindType }]);
    });

    it('refuses a wrong password (ESME_RINVPASWD) and an unknown system_id (ESME_RINVSYSID), then drops the link', async () => {
      const c = await client(peer);
      clients.push(c);
      expect((await c.call('bind_transceiver', { system_id: 'esme', password: 'nope' })).command_status).toBe(STATUS.ESME_RINVPASWD);
      await until(() => (c.session.socket.destroyed || c.session.socket.readableEnded ? true : undefined));
      const d = await client(peer);
      clients.push(d);
      expect((await d.call('bind_transceiver', { system_id: 'who', password: 'secret1' })).command_status).toBe(STATUS.ESME_RINVSYSID);
      expect(peer.bound()).toEqual([]);
    });

    it('answers a second bind on a bound session with ESME_RALYBND and a submit before binding with ESME_RINVBNDSTS', async () => {
      const c = await open();
      expect((await c.call('bind_transceiver', { system_id: 'esme', password: 'secret1' })).command_status).toBe(STATUS.ESME_RALYBND);
      const d = await client(peer);
      clients.push(d);
      expect((await d.call('submit_sm', { destination_addr: '15550100001', short_message: 'x' })).command_status).toBe(STATUS.ESME_RINVBNDSTS);
    });

    it('answers enquire_link, and unbind with unbind_resp before closing', async () => {
      const c = await open();
      expect((await c.call('enquire_link')).command).toBe('enquire_link_resp');
      const closed = new Promise<void>((r) => c.session.once('close', () => r()));
      expect((await c.call('unbind')).command).toBe('unbind_resp');
      await closed;
      expect(peer.pdus.map((p) => p.command)).toEqual(['bind_transceiver', 'enquire_link', 'unbind']);
    });
  });

  describe('submit_sm and receipts', () => {
    it('accepts with a message id and sends a DELIVRD receipt (esm_class 0x04, Appendix B text, TLVs)', async () => {
      const c = await open();
      const resp = await c.call('submit_sm', {
        source_addr: 'TURUMBA',
        destination_addr: '+15550100001',
        registered_delivery: 1,
        short_message: 'Hello there',
      });
      expect(resp.command_status).toBe(STATUS.ESME_ROK);
      const id = String(resp.message_id);
      expect(id).toMatch(/^[0-9a-f]{16}$/);

      const receipt = await until(() => c.delivered[0]);
      expect(receipt).toMatchObject({
        source_addr: '+15550100001',
        destination_addr: 'TURUMBA',
        esm_class: 0x04,
        receipted_message_id: id,
        message_state: MESSAGE_STATE.DELIVRD,
      });
      expect((receipt.short_message as { message: string }).message).toMatch(
        new RegExp(`^id:${id} sub:001 dlvrd:001 submit date:\\d{10} done date:\\d{10} stat:DELIVRD err:000 text:Hello there$`),
      );
      await until(() => (peer.receipts[0]?.ackStatus === 0 ? true : undefined));
      expect(peer.submits).toHaveLength(1);
      expect(peer.submits[0]).toMatchObject({ source: 'TURUMBA', destination: '+15550100001', text: 'Hello there', messageId: id, status: 0 });
    });

    it.each([
      ['15550100002', 'UNDELIV', '001'],
      ['15550100003', 'EXPIRED', '002'],
      ['15550100004', 'REJECTD', '011'],
    ])('%s gets a %s receipt with err:%s', async (to, stat, err) => {
      const c = await open();
      await c.call('submit_sm', { destination_addr: to, registered_delivery: 1, short_message: 'x' });
      const receipt = await until(() => c.delivered[0]);
      expect((receipt.short_message as { message: string }).message).toContain(`stat:${stat} err:${err} `);
      expect(receipt.message_state).toBe(MESSAGE_STATE[stat as 'UNDELIV']);
    });

    it('sends no receipt for 15550100005, nor when registered_delivery does not ask for one', async () => {
      const c = await open();
      await c.call('submit_sm', { destination_addr: '15550100005', registered_delivery: 1, short_message: 'x' });
      await c.call('submit_sm', { destination_addr: '15550100001', registered_delivery: 0, short_message: 'x' });
      // Failure-only receipts (registered_delivery 2) are not sent for a delivered message.
      await c.call('submit_sm', { destination_addr: '15550100001', registered_delivery: 2, short_message: 'x' });
      await c.call('submit_sm', { destination_addr: '15550100002', registered_delivery: 2, short_message: 'x' });
      // Receipts leave in submit order: once the last one is here, any unwanted earlier one would be too.
      await until(() => c.delivered[0]);
      await new Promise((r) => setTimeout(r, 50));
      expect(c.delivered.map((d) => d.message_state)).toEqual([MESSAGE_STATE.UNDELIV]);
    });

    it('refuses 15550100011 with ESME_RINVDSTADR and no message id', async () => {
      const c = await open();
      const resp = await c.call('submit_sm', { destination_addr: '15550100011', registered_delivery: 1, short_message: 'x' });
      expect(resp.command_status).toBe(STATUS.ESME_RINVDSTADR);
      expect(resp.message_id).toBeUndefined();
      expect(peer.submits[0]).toMatchObject({ status: STATUS.ESME_RINVDSTADR, messageId: undefined });
    });

    it('throttles the first 2 submits to 15550100058, and the next N submits after setMode({throttleFirst: N})', async () => {
      const c = await open();
      const statuses = async (to: string, n: number) => {
        const out: number[] = [];
        for (let i = 0; i < n; i += 1) out.push((await c.call('submit_sm', { destination_addr: to, short_message: 'x' })).command_status);
        return out;
      };
      expect(await statuses('15550100058', 4)).toEqual([0x58, 0x58, 0, 0]);
      peer.setMode({ throttleFirst: 1 });
      expect(await statuses('15550100001', 2)).toEqual([0x58, 0]);
      peer.setMode({ submitStatus: STATUS.ESME_RSYSERR });
      expect(await statuses('15550100001', 1)).toEqual([STATUS.ESME_RSYSERR]);
    });

    it('keeps a receipt until a receiver binds when the submit came over a transmitter', async () => {
      const tx = await open('bind_transmitter');
      await tx.call('submit_sm', { destination_addr: '15550100001', registered_delivery: 1, short_message: 'x' });
      await new Promise((r) => setTimeout(r, 50));
      expect(tx.delivered).toHaveLength(0);
      const rx = await open('bind_receiver');
      const receipt = await until(() => rx.delivered[0]);
      expect(receipt.receipted_message_id).toBe(peer.submits[0]?.messageId);
    });
  });

  describe('concatenated messages', () => {
    const udh8 = (ref: number, total: number, seq: number) => Buffer.from([0x05, 0x00, 0x03, ref, total, seq]);

    it('reads UDH (IE 0x00) parts, assembles them, and sends a receipt for each part that asks for one', async () => {
      const c = await open();
      // Two parts of one message; only the last asks for a receipt.
      const twoParts = async (to: string, ref: number, texts: [string, string]) => {
        for (const [i, message] of texts.entries()) {
          await c.call('submit_sm', { destination_addr: to, esm_class: 0x40, registered_delivery: i, short_message: { udh: udh8(ref, 2, i + 1), message } });
        }
      };
      await twoParts('15550100001', 7, ['Hello ', 'world']);
      expect(peer.submits.map((s) => s.part)).toEqual([
        { ref: 7, total: 2, seq: 1, via: 'udh8' },
        { ref: 7, total: 2, seq: 2, via: 'udh8' },
      ]);
      expect(peer.messages()).toEqual([expect.objectContaining({ destination: '15550100001', text: 'Hello world' })]);
      await until(() => c.delivered[0]);
      await new Promise((r) => setTimeout(r, 50));
      expect(c.delivered.map((d) => d.receipted_message_id)).toEqual([peer.submits[1]?.messageId]);

      peer.setMode({ receiptPerPart: true });
      await twoParts('15550100002', 8, ['a', 'b']);
      await until(() => (c.delivered.length === 3 ? true : undefined));
    });

    it('reads sar_* TLV parts', async () => {
      const c = await open();
      for (const [seq, text] of [
        [2, 'two'],
        [1, 'one '],
      ] as const) {
        await c.call('submit_sm', {
          destination_addr: '15550100001',
          short_message: text,
          sar_msg_ref_num: 300,
          sar_total_segments: 2,
          sar_segment_seqnum: seq,
        });
      }
      expect(peer.submits.map((s) => s.part)).toEqual([
        { ref: 300, total: 2, seq: 2, via: 'sar' },
        { ref: 300, total: 2, seq: 1, via: 'sar' },
      ]);
      expect(peer.messages().map((m) => m.text)).toEqual(['one two']);
    });
  });
});
