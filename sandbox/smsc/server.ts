import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import * as smpp from 'smpp';
import type { DecodedMessage } from 'smpp';
import { ESM_CLASS_RECEIPT, MESSAGE_STATE, STATUS, partInfo, receiptText, type PartInfo, type ReceiptStat } from './wire';

export interface SmscAccount {
  systemId: string;
  password: string;
}

/** Faults for every submit, on top of the per-destination table. */
export interface SmscMode {
  /** Answer ESME_RTHROTTLED to the next N submits (counted from this setMode call). */
  throttleFirst: number;
  /** Answer every submit with this command_status (0 = normal). */
  submitStatus: number;
  /** Receipt status for every accepted part, or 'none' to send no receipts; undefined = by destination. */
  receipt: ReceiptStat | 'none' | undefined;
  /** Gap between submit_sm_resp and the receipt's deliver_sm. */
  receiptDelayMs: number;
  /**
   * Receipt for every part of a concatenated message, even parts submitted without
   * registered_delivery (Jasmin asks only on the last part; some SMSCs report each segment anyway).
   */
  receiptPerPart: boolean;
}

export interface SmscOptions {
  host?: string;
  port?: number;
  accounts: SmscAccount[];
  receiptDelayMs?: number;
  /** Message ids for accepted submits (default 16 random hex digits). */
  messageId?: () => string;
  log?: (line: string) => void;
}

/** One PDU as received, every field the `smpp` package decoded. */
export interface SmscPdu {
  at: number;
  session: number;
  systemId: string | undefined;
  command: string;
  status: number;
  sequence: number;
  fields: Record<string, unknown>;
}

export interface SmscSubmit {
  at: number;
  session: number;
  systemId: string;
  source: string;
  destination: string;
  text: string;
  dataCoding: number;
  esmClass: number;
  registeredDelivery: number;
  part: PartInfo | undefined;
  /** The command_status we answered. */
  status: number;
  /** Set when accepted (status 0). */
  messageId: string | undefined;
}

export interface SmscReceipt {
  at: number;
  messageId: string;
  stat: ReceiptStat;
  err: string;
  shortMessage: string;
  /** command_status of the deliver_sm_resp; undefined until answered. */
  ackStatus: number | undefined;
}

export interface SmscPeer {
  host: string;
  port: number;
  /** Every PDU received, in order, including binds and responses. */
  pdus: SmscPdu[];
  submits: SmscSubmit[];
  receipts: SmscReceipt[];
  /** Sessions bound right now, by bind type. */
  bound(): Array<{ session: number; systemId: string; bindType: BindType }>;
  /** Accepted parts grouped back into messages (by source, destination and concatenation ref). */
  messages(): Array<{ destination: string; text: string; parts: SmscSubmit[] }>;
  setMode(mode: Partial<SmscMode>): void;
  close(): Promise<void>;
}

type BindType = 'transceiver' | 'transmitter' | 'receiver';

interface Behaviour {
  receipt?: ReceiptStat | 'none';
  err?: string;
  submitStatus?: number;
  throttleFirst?: number;
}

/** Scripted by destination (leading '+' ignored); every other number is accepted and DELIVRD. */
export const BY_DESTINATION: Readonly<Record<string, Behaviour>> = {
  '15550100002': { receipt: 'UNDELIV', err: '001' },
  '15550100003': { receipt: 'EXPIRED', err: '002' },
  '15550100004': { receipt: 'REJECTD', err: '011' },
  '15550100005': { receipt: 'none' },
  '15550100011': { submitStatus: STATUS.ESME_RINVDSTADR },
  '15550100058': { throttleFirst: 2 },
};

const BIND_COMMANDS: Readonly<Record<string, BindType>> = {
  bind_transceiver: 'transceiver',
  bind_transmitter: 'transmitter',
  bind_receiver: 'receiver',
};

interface SessionState {
  id: number;
  session: smpp.Session;
  systemId?: string;
  bindType?: BindType;
}

/** An SMPP v3.4 SMSC on a real TCP port: binds, submit_sm, enquire_link, unbind, and deliver_sm receipts. */
export async function startSmsc(opts: SmscOptions): Promise<SmscPeer> {
  const log = opts.log ?? (() => undefined);
  const mode: SmscMode = { throttleFirst: 0, submitStatus: 0, receipt: undefined, receiptDelayMs: opts.receiptDelayMs ?? 20, receiptPerPart: false };
  const pdus: SmscPdu[] = [];
  const submits: SmscSubmit[] = [];
  const receipts: SmscReceipt[] = [];
  const sessions = new Set<SessionState>();
  const timers = new Set<NodeJS.Timeout>();
  const throttledByDestination = new Map<string, number>();
  // Receipts wait here when no receiver/transceiver of that system_id is bound, as a store-and-forward SMSC would.
  const pending: Array<{ systemId: string; pdu: smpp.PDU; receipt: SmscReceipt }> = [];
  let nextSessionId = 1;

  const server = smpp.createServer({}, (session) => {
    const state: SessionState = { id: nextSessionId++, session };
    sessions.add(state);
    session.on('error', (err: Error) => log(`session ${state.id} error: ${err.message}`));
    session.on('close', () => sessions.delete(state));
    session.on('pdu', (pdu: smpp.PDU) => {
      pdus.push({
        at: Date.now(),
        session: state.id,
        systemId: state.systemId,
        command: pdu.command,
        status: pdu.command_status,
        sequence: pdu.sequence_number,
        fields: { ...pdu },
      });
      handle(state, pdu);
    });
  });

  const handle = (state: SessionState, pdu: smpp.PDU): void => {
    const { session } = state;
    const bindType = BIND_COMMANDS[pdu.command];
    if (bindType) return bind(state, pdu, bindType);
    if (pdu.command === 'enquire_link') return void session.send(pdu.response());
    if (pdu.command === 'unbind') {
      session.send(pdu.response(), () => session.close());
      state.bindType = undefined;
      return;
    }
    if (pdu.isResponse()) return;
    if (pdu.command === 'unknown') return void session.send(pdu.response());
    if (!state.bindType || state.bindType === 'receiver') return void session.send(pdu.response({ command_status: STATUS.ESME_RINVBNDSTS }));
    if (pdu.command === 'submit_sm') return submit(state, pdu);
    session.send(pdu.response({ command_status: STATUS.ESME_RINVCMDID }));
  };

  const bind = (state: SessionState, pdu: smpp.PDU, bindType: BindType): void => {
    const systemId = str(pdu.system_id);
    const account = opts.accounts.find((a) => a.systemId === systemId);
    const status = state.bindType
      ? STATUS.ESME_RALYBND
      : !account
        ? STATUS.ESME_RINVSYSID
        : account.password !== pdu.password
          ? STATUS.ESME_RINVPASWD
          : STATUS.ESME_ROK;
    state.session.send(pdu.response({ command_status: status, system_id: 'turumba-smsc' }));
    if (status !== STATUS.ESME_ROK) {
      log(`bind ${bindType} refused for '${systemId}' (0x${status.toString(16)})`);
      // A refused bind closes the link, as SMSCs do, so the client's reconnect logic runs.
      if (status !== STATUS.ESME_RALYBND) setTimeout(() => state.session.close(), 50);
      return;
    }
    state.systemId = systemId;
    state.bindType = bindType;
    log(`session ${state.id} bound ${bindType} as '${systemId}'`);
    if (bindType !== 'transmitter') flushPending(state);
  };

  const submit = (state: SessionState, pdu: smpp.PDU): void => {
    const destination = str(pdu.destination_addr).replace(/^\+/, '');
    const behaviour = BY_DESTINATION[destination] ?? {};
    const decoded = pdu.short_message as DecodedMessage | undefined;
    const payload = pdu.message_payload as DecodedMessage | undefined;
    const body = decoded?.message && decoded.message.length > 0 ? decoded : payload;
    const record: SmscSubmit = {
      at: Date.now(),
      session: state.id,
      systemId: state.systemId ?? '',
      source: str(pdu.source_addr),
      destination: str(pdu.destination_addr),
      text: typeof body?.message === 'string' ? body.message : (body?.message?.toString('latin1') ?? ''),
      dataCoding: num(pdu.data_coding),
      esmClass: num(pdu.esm_class),
      registeredDelivery: num(pdu.registered_delivery),
      part: partInfo(decoded?.udh, { ref: pdu.sar_msg_ref_num, total: pdu.sar_total_segments, seq: pdu.sar_segment_seqnum }),
      status: submitStatus(destination, behaviour),
      messageId: undefined,
    };
    submits.push(record);
    if (record.status !== STATUS.ESME_ROK) {
      state.session.send(pdu.response({ command_status: record.status }));
      return;
    }
    const messageId = opts.messageId?.() ?? randomBytes(8).toString('hex');
    record.messageId = messageId;
    state.session.send(pdu.response({ message_id: messageId }));

    const stat = mode.receipt ?? behaviour.receipt ?? 'DELIVRD';
    // registered_delivery bits 0-1: 01 = receipt on any final outcome, 10 = on failure only.
    const wanted = mode.receiptPerPart && record.part ? 0x01 : record.registeredDelivery & 0x03;
    if (stat === 'none' || wanted === 0 || (wanted === 2 && stat === 'DELIVRD')) return;
    const timer = setTimeout(() => {
      timers.delete(timer);
      sendReceipt(state.systemId ?? '', record, messageId, stat, behaviour.err ?? (stat === 'DELIVRD' ? '000' : '001'));
    }, mode.receiptDelayMs);
    timers.add(timer);
  };

  const submitStatus = (destination: string, behaviour: Behaviour): number => {
    if (mode.throttleFirst > 0) {
      mode.throttleFirst -= 1;
      return STATUS.ESME_RTHROTTLED;
    }
    if (behaviour.throttleFirst) {
      const seen = throttledByDestination.get(destination) ?? 0;
      if (seen < behaviour.throttleFirst) {
        throttledByDestination.set(destination, seen + 1);
        return STATUS.ESME_RTHROTTLED;
      }
    }
    return mode.submitStatus || behaviour.submitStatus || STATUS.ESME_ROK;
  };

  const sendReceipt = (systemId: string, submitted: SmscSubmit, messageId: string, stat: ReceiptStat, err: string): void => {
    const shortMessage = receiptText({ id: messageId, submittedAt: new Date(submitted.at), doneAt: new Date(), stat, err, text: submitted.text });
    const receipt: SmscReceipt = { at: 0, messageId, stat, err, shortMessage, ackStatus: undefined };
    const pdu = new smpp.PDU('deliver_sm', {
      source_addr: submitted.destination,
      destination_addr: submitted.source,
      esm_class: ESM_CLASS_RECEIPT,
      data_coding: 0,
      short_message: Buffer.from(shortMessage, 'ascii'),
      receipted_message_id: messageId,
      message_state: MESSAGE_STATE[stat],
    });
    const target = [...sessions].find((s) => s.systemId === systemId && (s.bindType === 'transceiver' || s.bindType === 'receiver'));
    if (!target) {
      pending.push({ systemId, pdu, receipt });
      return;
    }
    deliver(target, pdu, receipt);
  };

  const deliver = (target: SessionState, pdu: smpp.PDU, receipt: SmscReceipt): void => {
    receipt.at = Date.now();
    receipts.push(receipt);
    target.session.send(pdu, (resp) => {
      receipt.ackStatus = resp.command_status;
    });
  };

  const flushPending = (state: SessionState): void => {
    for (let i = pending.length - 1; i >= 0; i -= 1) {
      const item = pending[i];
      if (!item || item.systemId !== state.systemId) continue;
      pending.splice(i, 1);
      deliver(state, item.pdu, item.receipt);
    }
  };

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;

  return {
    host: address.address,
    port: address.port,
    pdus,
    submits,
    receipts,
    bound: () => [...sessions].flatMap((s) => (s.bindType && s.systemId !== undefined ? [{ session: s.id, systemId: s.systemId, bindType: s.bindType }] : [])),
    messages: () => assemble(submits),
    setMode(next) {
      Object.assign(mode, next);
    },
    async close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const s of sessions) s.session.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function assemble(submits: readonly SmscSubmit[]): Array<{ destination: string; text: string; parts: SmscSubmit[] }> {
  const groups = new Map<string, SmscSubmit[]>();
  for (const s of submits) {
    if (s.messageId === undefined) continue;
    const key = s.part ? `${s.source}|${s.destination}|${s.part.via}|${s.part.ref}` : `single|${s.messageId}`;
    groups.set(key, [...(groups.get(key) ?? []), s]);
  }
  return [...groups.values()].map((parts) => {
    const ordered = [...parts].sort((a, b) => (a.part?.seq ?? 0) - (b.part?.seq ?? 0));
    return { destination: ordered[0]?.destination ?? '', text: ordered.map((p) => p.text).join(''), parts: ordered };
  });
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const num = (v: unknown): number => (typeof v === 'number' ? v : 0);
