// Redraw times of the attention explorer, measured in the browser (read by
// benchmarks/bench_attention_view.py and tests/test_attention_view_browser.py).
//
// Evaluated by Playwright as `page.evaluate(probe, {selector, n})`: for each interaction a
// user can make, it fires the event `n` times (alternating targets, so every time something
// changes) and records, per time, "sync": from the event to the end of the handler's DOM update
// and a forced layout (the script's work), and "frame": until the next animation frame (what
// a user waits for, including the wait for the frame). Returns {interaction: {sync: [...],
// frame: [...]}} in milliseconds.
async ({ selector, n }) => {
  const root = document.querySelector(selector);
  if (!root) throw new Error(`no ${selector} on the page`);
  const frame = () => new Promise((r) => requestAnimationFrame(() => r()));
  const out = {};
  async function measure(name, fire) {
    const sync = [];
    const frames = [];
    for (let k = 0; k < n; k++) {
      await frame();
      const t0 = performance.now();
      fire(k);
      root.getBoundingClientRect(); // force style and layout
      void root.offsetHeight;
      const t1 = performance.now();
      await frame();
      sync.push(t1 - t0);
      frames.push(performance.now() - t0);
    }
    out[name] = { sync, frame: frames };
  }
  const strip = root.querySelector(".attn-strip-self, .attn-strip-queries");
  const tokens = strip.querySelectorAll(".attn-tok");
  const pick = (k) => tokens[(tokens.length - 1 - 7 * k) % tokens.length] || tokens[0];
  await measure("hover a token", (k) =>
    pick(k).dispatchEvent(new MouseEvent("mouseover", { bubbles: true })),
  );
  await measure("click a token", (k) => pick(k + 1).click());
  const overlay = root.querySelector(".attn-hm-overlay");
  if (overlay) {
    const r = () => overlay.getBoundingClientRect();
    await measure("hover the heatmap", (k) => {
      const b = r();
      overlay.dispatchEvent(
        new MouseEvent("mousemove", {
          bubbles: true,
          clientX: b.left + ((k * 37) % 97) / 100 * b.width,
          clientY: b.top + ((k * 53) % 89) / 100 * b.height,
        }),
      );
    });
    overlay.dispatchEvent(new MouseEvent("mouseleave"));
  }
  const thumbs = root.querySelectorAll(".attn-thumb");
  if (thumbs.length > 1) {
    await measure("click a head's thumbnail", (k) => thumbs[(k * 3 + 1) % thumbs.length].click());
  }
  const shared = root.querySelector(".attn-shared input");
  if (shared && shared.offsetParent !== null) {
    await measure("shared scale on/off", () => shared.click());
  }
  const lines = root.querySelector(".attn-view-lines");
  const heat = root.querySelector(".attn-view-heatmap");
  await measure("heatmap / lines view", (k) => (k % 2 ? heat : lines).click());
  heat.click();
  const select = root.querySelector(".attn-example select");
  if (select && select.options.length > 1) {
    await measure("another example", (k) => {
      select.value = String((k + 1) % select.options.length);
      select.dispatchEvent(new Event("change", { bubbles: true }));
    });
  }
  return out;
};
