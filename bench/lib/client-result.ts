/** What one client process records per planned request, as parallel arrays indexed by plan position. */
export interface ClientResult {
  /** Epoch ms (fractional) of the first attempt; 0 if never sent. */
  send: number[];
  /** Epoch ms of the final answer; 0 if never answered. */
  resp: number[];
  /** gRPC status of the final answer (0 OK); -1 never sent. */
  code: number[];
  /** ErrorInfo reason of an error answer. */
  reason: string[];
  /** RegistrationState of an OK answer. */
  state: number[];
  /** Registration id of an OK answer. */
  regId: string[];
  attempts: number[];
  signMs: number;
  connectMs: number;
  /** CPU seconds this process used while sending (user + system). */
  cpuSeconds: number;
}

/** A result with nothing sent yet for `n` planned requests. */
export function emptyClientResult(n: number): ClientResult {
  return {
    send: new Array<number>(n).fill(0),
    resp: new Array<number>(n).fill(0),
    code: new Array<number>(n).fill(-1),
    reason: new Array<string>(n).fill(''),
    state: new Array<number>(n).fill(0),
    regId: new Array<string>(n).fill(''),
    attempts: new Array<number>(n).fill(0),
    signMs: 0,
    connectMs: 0,
    cpuSeconds: 0,
  };
}
