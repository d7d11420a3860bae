// The npm `smpp` package ships no types: only the part this peer (and its tests) use.
declare module 'smpp' {
  import type { EventEmitter } from 'node:events';
  import type { Server as NetServer, Socket } from 'node:net';

  /** A decoded short_message: the text, and the UDH information elements when esm_class has UDHI. */
  export interface DecodedMessage {
    message: string | Buffer;
    udh?: Buffer[];
  }

  export class PDU {
    constructor(command: string, options?: Record<string, unknown>);
    command: string;
    command_id: number;
    command_status: number;
    command_length: number;
    sequence_number: number;
    // PDU fields and TLVs are set as properties by name.
    [field: string]: unknown;
    isResponse(): boolean;
    response(options?: Record<string, unknown>): PDU;
    toBuffer(): Buffer;
  }

  export type PduCallback = (pdu: PDU) => void;

  export class Session extends EventEmitter {
    socket: Socket;
    server?: Server;
    send(pdu: PDU, responseCallback?: PduCallback, sendCallback?: PduCallback): boolean;
    close(callback?: () => void): void;
    destroy(callback?: () => void): void;
    pause(): void;
    resume(): void;
    // Shortcuts named after each command (bind_transceiver, submit_sm, deliver_sm, ...).
    [command: string]: unknown;
  }

  export class Server extends NetServer {
    sessions: Session[];
  }

  export interface ConnectOptions {
    host?: string;
    port?: number;
    url?: string;
    auto_enquire_link_period?: number;
  }

  export function createServer(options: Record<string, unknown>, listener?: (session: Session) => void): Server;
  export function connect(options: ConnectOptions, listener?: () => void): Session;

  export const errors: Readonly<Record<string, number>>;
  export const consts: {
    readonly ESM_CLASS: Readonly<Record<string, number>>;
    readonly MESSAGE_STATE: Readonly<Record<string, number>>;
    readonly REGISTERED_DELIVERY: Readonly<Record<string, number>>;
  };
}
