// A simulation worker: replays and search evaluations off the page's thread.
//
// Messages in:  {id, type, ...}; out: {id, ok: true, result, ms} or {id, ok: false, error}.
// Messages are handled one at a time, in order.
import init, { SimSession, last_panic } from "./pkg/flotilla_web.js";

let session = null;
let queue = Promise.resolve();

const handlers = {
  async init(m) {
    await init({ module_or_path: m.module });
    session = new SimSession();
    return true;
  },
  trace(m) {
    return JSON.parse(session.load_trace(m.name, new Uint8Array(m.bytes)));
  },
  "clear-trace"() {
    session.clear_trace();
    return true;
  },
  prices(m) {
    return JSON.parse(session.add_prices(m.name, new Uint8Array(m.bytes), JSON.stringify(m.config)));
  },
  "clear-prices"() {
    session.clear_prices();
    return true;
  },
  replay(m, timing) {
    // The replay alone is timed; the result is a string the page parses (report_json inside
    // stays byte-exact).
    const t0 = performance.now();
    session.run_replay(JSON.stringify(m.request));
    timing.replayMs = performance.now() - t0;
    return session.take_result();
  },
  space(m) {
    return JSON.parse(session.search_space(JSON.stringify(m.request)));
  },
  evaluate(m) {
    return session.evaluate(
      JSON.stringify(m.request),
      m.index,
      JSON.stringify(m.config),
      JSON.stringify(m.objective),
    );
  },
};

async function handle(m) {
  const t0 = performance.now();
  try {
    const h = handlers[m.type];
    if (!h) throw new Error(`unknown message ${m.type}`);
    if (!session && m.type !== "init") throw new Error("the simulator is not loaded yet");
    const timing = {};
    const result = await h(m, timing);
    self.postMessage({ id: m.id, ok: true, result, ms: performance.now() - t0, replayMs: timing.replayMs });
  } catch (e) {
    if (e instanceof WebAssembly.RuntimeError) {
      // A panic (a bug): the instance may be inconsistent, so the page replaces this worker.
      let why = "";
      try {
        why = last_panic();
      } catch (_) {
        // nothing more to say
      }
      self.postMessage({
        id: m.id,
        ok: false,
        fatal: true,
        error: `the simulator crashed on this input (a bug): ${why || e.message}`,
      });
      return;
    }
    self.postMessage({ id: m.id, ok: false, error: String((e && e.message) || e) });
  }
}

self.onmessage = (e) => {
  queue = queue.then(() => handle(e.data));
};
