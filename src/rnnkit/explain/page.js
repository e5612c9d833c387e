// rnnkit explain --format html: the page's script (explain/page.py puts it into the page).
//
// The data element holds the exercise: the given values, and every step's lines as templates
// whose leaves name a value (W_f, x_1, f_1; inner:f_1 is the argument of f_1's activation). On
// every edit this script reads the fields, recomputes every named value with the lecture's
// equations (CELLS: one function per cell) and fills the templates, printing numbers as rnnkit's
// text output does. JavaScript numbers are IEEE doubles, the same as torch's float64.
"use strict";

const DATA = JSON.parse(document.getElementById("data").textContent);
const LEAF = /\ue000(\d+)\ue001/g;
const DECIMALS = 10; // formula.DECIMALS

// ----- numbers, printed as formula.format_number and format_tensor print them -----------------
/** Python's f"{v:.10f}" with trailing zeros dropped: 0.0179862100 -> "0.01798621"; ≈ before a
 * value that rounds to a whole number without being one (formula.format_number). */
function formatNumber(v) {
  if (Number.isNaN(v)) return "nan";
  if (!Number.isFinite(v)) return v > 0 ? "inf" : "-inf";
  if (Math.abs(v) >= 1e21) return BigInt(v).toString(); // toFixed writes exponents there
  let text = v.toFixed(DECIMALS); // the exact value rounded, but halves away from zero
  // A half at the 10th decimal is exactly odd / 2^11 (11 decimals ending in 5); Python
  // rounds it to the even 10th decimal.
  const scaled = v * 2048; // exact: a power of two
  if (Number.isInteger(scaled) && scaled % 2 !== 0) {
    const down = v.toFixed(DECIMALS + 1).slice(0, -1); // exact: 11 decimals
    if (Number(down.at(-1)) % 2 === 0) text = down;
  }
  text = text.replace(/0+$/, "").replace(/\.$/, "");
  if (text === "-0") text = "0";
  // rounds to a whole number without being one: marked, as Python marks it
  return !text.includes(".") && v !== Number(text) ? `≈${text}` : text;
}

/** [a, b], [[a, b], [c, d]], or a number. */
function formatTensor(value) {
  return Array.isArray(value) ? `[${value.map(formatTensor).join(", ")}]` : formatNumber(value);
}

// ----- the algebra the equations use ------------------------------------------------------------
const zeros = (n) => new Array(n).fill(0);
/** a + b, for numbers or vectors of the same shape. */
const add = (a, b) => (Array.isArray(a) ? a.map((v, k) => add(v, b[k])) : a + b);
/** a ⊙ b, the element-wise product. */
const hadamard = (a, b) => a.map((v, k) => v * b[k]);
const dot = (a, b) => a.reduce((sum, v, k) => sum + v * b[k], 0);
/** M v; a vector M (one output, as V_A in exercise 4) gives a number. */
const product = (M, v) => (Array.isArray(M[0]) ? M.map((row) => dot(row, v)) : dot(M, v));
const sigmoid = (a) => 1 / (1 + Math.exp(-a));
/** softmax(a)_k = exp(a_k - max a) / sum_j exp(a_j - max a): the max keeps exp finite. */
function softmax(a) {
  const top = Math.max(...a);
  const e = a.map((v) => Math.exp(v - top));
  const total = e.reduce((sum, v) => sum + v, 0);
  return e.map((v) => v / total);
}
/** W x_t + U h_{t-1} + b, the argument of every gate (summed in the order rnnkit's cells sum:
 *  W x_t + b first, as one projection of the input). */
const affine = (W, x, U, h, b) => add(add(product(W, x), b), product(U, h));

// ----- the cells: the lecture's equations, one function per cell --------------------------------
// Each gets p (the lecture's names -> numbers), xs (x_1, ..., x_T) and put(name, value, inner),
// which keeps a value under the name rnnkit's explanation gives it (f_1, c~_1, h→_2) and returns
// it; inner is the value the step shows inside its formula (an activation's argument, tanh(c_t)).
const CELLS = {
  lstm(p, xs, put) {
    let h = put("h_0", zeros(p.b_f.length)); // h_0 = 0
    let c = put("c_0", zeros(p.b_f.length)); // c_0 = 0
    xs.forEach((x, k) => {
      const t = k + 1;
      // Step 1, forget gate: f_t = σ(W_f x_t + U_f h_{t-1} + b_f)
      const aF = affine(p.W_f, x, p.U_f, h, p.b_f);
      const f = put(`f_${t}`, aF.map(sigmoid), aF);
      // Step 2, input gate: i_t = σ(W_i x_t + U_i h_{t-1} + b_i)
      const aI = affine(p.W_i, x, p.U_i, h, p.b_i);
      const i = put(`i_${t}`, aI.map(sigmoid), aI);
      //   and the candidate: c~_t = tanh(W_c x_t + U_c h_{t-1} + b_c)
      const aC = affine(p.W_c, x, p.U_c, h, p.b_c);
      const cTilde = put(`c~_${t}`, aC.map(Math.tanh), aC);
      // Step 3, update c: c_t = f_t ⊙ c_{t-1} + i_t ⊙ c~_t
      c = put(`c_${t}`, add(hadamard(f, c), hadamard(i, cTilde)));
      // Step 4, output gate: o_t = σ(W_o x_t + U_o h_{t-1} + b_o)
      const aO = affine(p.W_o, x, p.U_o, h, p.b_o);
      const o = put(`o_${t}`, aO.map(sigmoid), aO);
      //   and h_t = o_t ⊙ tanh(c_t)
      const tanhC = c.map(Math.tanh);
      h = put(`h_${t}`, hadamard(o, tanhC), tanhC);
    });
  },

  gru(p, xs, put) {
    let h = put("h_0", zeros(p.b_z.length)); // h_0 = 0
    xs.forEach((x, k) => {
      const t = k + 1;
      // update gate: z_t = σ(W_z x_t + U_z h_{t-1} + b_z)
      const aZ = affine(p.W_z, x, p.U_z, h, p.b_z);
      const z = put(`z_${t}`, aZ.map(sigmoid), aZ);
      // reset gate: r_t = σ(W_r x_t + U_r h_{t-1} + b_r)
      const aR = affine(p.W_r, x, p.U_r, h, p.b_r);
      const r = put(`r_${t}`, aR.map(sigmoid), aR);
      // new update information: h~_t = tanh(W_h x_t + U_h (r_t ⊙ h_{t-1}) + b_h)
      const aH = affine(p.W_h, x, p.U_h, hadamard(r, h), p.b_h);
      const hTilde = put(`h~_${t}`, aH.map(Math.tanh), aH);
      // new state: h_t = (1 - z_t) ⊙ h_{t-1} + z_t ⊙ h~_t
      h = put(`h_${t}`, add(hadamard(z.map((v) => 1 - v), h), hadamard(z, hTilde)));
      put(`y^_${t}`, h); // no output layer is given: y^_t = h_t
    });
  },

  rnn(p, xs, put) {
    let h = put("h_0", zeros(p.b.length)); // h_0 = 0
    xs.forEach((x, k) => {
      const t = k + 1;
      // hidden state: h_t = tanh(W x_t + U h_{t-1} + b)
      const a = affine(p.W, x, p.U, h, p.b);
      h = put(`h_${t}`, a.map(Math.tanh), a);
      // output, when V and b_y are given: y_t = softmax(V h_t + b_y)
      if (p.V !== undefined) {
        const logits = add(product(p.V, h), p.b_y);
        put(`y_${t}`, softmax(logits), logits);
      }
    });
  },

  // Exercise 4 ignores every activation function. The lecture's reading has W multiply the
  // input and U the state; the vanilla slide's letters ("vanilla") swap them.
  birnn(p, xs, put, reading) {
    const lecture = reading === "lecture";
    const [W, U] = lecture ? [p.W_A, p.U_A] : [p.U_A, p.W_A];
    const [Wb, Ub] = lecture ? [p["W_A'"], p["U_A'"]] : [p["U_A'"], p["W_A'"]];
    const T = xs.length;
    const forward = [put("h→_0", zeros(W.length))]; // h→_0 = 0
    const backward = [];
    backward[T + 1] = put(`h←_${T + 1}`, zeros(W.length)); // h←_{T+1} = 0
    // forward RNN A: h→_t = W_A x_t + U_A h→_{t-1}, for t = 1, ..., T
    for (let t = 1; t <= T; t++) {
      forward[t] = put(`h→_${t}`, add(product(W, xs[t - 1]), product(U, forward[t - 1])));
    }
    // backward RNN A': h←_t = W_A' x_t + U_A' h←_{t+1}, for t = T, ..., 1
    for (let t = T; t >= 1; t--) {
      backward[t] = put(`h←_${t}`, add(product(Wb, xs[t - 1]), product(Ub, backward[t + 1])));
    }
    // output: y_t = V_A h→_t + V_A' h←_t
    const y = [];
    for (let t = 1; t <= T; t++) {
      y.push(put(`y_${t}`, add(product(p.V_A, forward[t]), product(p["V_A'"], backward[t]))));
    }
    put("y", y);
  },
};

/** Every named value of the exercise: the parameters, the inputs x_t and what the cell computes. */
function compute(params, xs) {
  const values = { ...params };
  xs.forEach((x, k) => (values[`x_${k + 1}`] = x));
  const put = (name, value, inner) => {
    values[name] = value;
    if (inner !== undefined) values[`inner:${name}`] = inner;
    return value;
  };
  CELLS[DATA.model](params, xs, put, DATA.reading);
  if (DATA.other_reading) {
    // exercise 4's note: the answer under the other reading
    const other = {};
    const otherReading = DATA.reading === "lecture" ? "vanilla" : "lecture";
    CELLS.birnn(params, xs, (name, value) => (other[name] = value), otherReading);
    values["other:y"] = other.y;
  }
  return values;
}

/** A template with each leaf's value printed. */
function fill(line, values) {
  return line.template.replace(LEAF, (_, k) => {
    const name = line.leaves[Number(k)];
    if (!(name in values)) throw new Error(`the ${DATA.model} cell computes no ${name}`);
    return formatTensor(values[name]);
  });
}

// ----- the fields -------------------------------------------------------------------------------
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/; // what float() reads, less inf and nan

/** The number in a field, or null when it holds something else. */
function parseField(input) {
  const text = input.value.trim();
  const value = NUMBER.test(text) ? Number(text) : NaN;
  return Number.isFinite(value) ? value : null;
}

/** The given value as fields: a number, a row of fields, or rows of them; inputs[] gets each. */
function fieldsFor(name, value, path, inputs) {
  if (Array.isArray(value)) {
    const box = element("span", Array.isArray(value[0]) ? "matrix" : "vector");
    value.forEach((item, k) => box.append(fieldsFor(name, item, [...path, k], inputs)));
    return box;
  }
  const input = element("input", "number");
  input.type = "text";
  input.inputMode = "decimal";
  input.value = String(value);
  input.defaultValue = input.value;
  input.dataset.name = name;
  input.dataset.index = path.join(",");
  input.setAttribute("aria-label", `${name}${path.map((k) => `[${k}]`).join("")}`);
  inputs.push(input);
  return input;
}

/** The fields' numbers in their shapes: the parameters by name, and x_1, ..., x_T; the fields
 *  that are not a number in bad. (item.fields: index "r,c" -> field, made by build().) */
function readFields(given) {
  const params = {};
  const xs = [];
  const bad = [];
  for (const item of given.filter((g) => g.role !== "state")) {
    const read = (value, path) =>
      Array.isArray(value)
        ? value.map((v, k) => read(v, [...path, k]))
        : fieldValue(item.fields[path.join(",")], bad);
    const value = read(item.value, []);
    if (item.role === "input") xs.push(value);
    else params[item.name] = value;
  }
  return { params, xs, bad };
}

function fieldValue(input, bad) {
  const value = parseField(input);
  const wrong = value === null;
  input.classList.toggle("bad", wrong);
  input.setAttribute("aria-invalid", String(wrong));
  if (wrong) bad.push(input);
  return value;
}

// ----- the page ---------------------------------------------------------------------------------
function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Lines that change with the numbers: [node, fill() -> its text]. */
const live = [];

function build() {
  const page = document.getElementById("page");
  page.append(element("p", "source", DATA.source));
  // Two columns on a wide screen, so that the steps stay in sight while a number changes.
  const columns = element("div", "columns");
  const left = element("section", "inputs");
  const right = element("section", "outputs");
  columns.append(left, right);
  page.append(columns);

  left.append(element("h2", "", `${DATA.labels.given}:`));
  const given = element("div", "given");
  const inputs = [];
  for (const item of DATA.given) {
    const row = element("div", "symbol");
    row.append(element("span", "name", `${item.name} = `));
    if (item.role !== "state") {
      const before = inputs.length;
      row.append(fieldsFor(item.name, item.value, [], inputs));
      item.fields = Object.fromEntries(inputs.slice(before).map((i) => [i.dataset.index, i]));
    } else {
      row.append(element("span", "fixed", formatTensor(item.value)));
    }
    given.append(row);
  }
  const reset = element("button", "reset", DATA.reset);
  reset.type = "button";
  const message = element("p", "message");
  message.id = "message";
  message.setAttribute("role", "alert");
  message.hidden = true;
  left.append(given, reset, message);

  for (const note of DATA.notes) {
    const paragraph = element("p", "note");
    paragraph.append(element("strong", "", `${DATA.labels.note}: `));
    const text = element("span", "", note.template);
    paragraph.append(text);
    if (note.leaves.length) live.push([text, (values) => fill(note, values)]);
    right.append(paragraph);
  }

  right.append(element("h2", "", `${DATA.labels.solution}:`));
  const solution = element("section", "solution");
  solution.id = "solution";
  for (const step of DATA.steps) {
    if (step.time !== null) solution.append(element("h3", "time", step.time));
    solution.append(element("h4", "step", step.heading));
    for (const quantity of step.quantities) {
      const block = element("pre", "quantity");
      block.dataset.symbol = quantity.symbol;
      live.push([block, (values) => quantityText(quantity, values)]);
      solution.append(block);
    }
  }
  const answer = element("p", "answer");
  answer.id = "answer";
  answer.append(element("strong", "", `${DATA.labels.answer}: `));
  const answerText = element("span");
  answer.append(answerText);
  live.push([answerText, (values) => fill(DATA.answer, values)]);
  solution.append(answer);
  right.append(solution);

  const update = () => {
    const { params, xs, bad } = readFields(DATA.given);
    solution.classList.toggle("stale", bad.length > 0);
    message.hidden = bad.length === 0;
    if (bad.length) {
      const first = bad[0];
      message.textContent = DATA.words["page.invalid"]
        .replace("{name}", () => first.getAttribute("aria-label"))
        .replace("{text}", () => first.value);
      return; // the steps keep the last valid numbers
    }
    const values = compute(params, xs);
    for (const [node, text] of live) node.textContent = text(values);
  };
  given.addEventListener("input", update);
  reset.addEventListener("click", () => {
    for (const input of inputs) input.value = input.defaultValue;
    update();
  });
  update();
}

/** The quantity as the text output prints it: "f_1 = formula", then "    = ..." per line,
 *  without a line equal to the one before (render._lines). */
function quantityText(quantity, values) {
  const lines = quantity.lines.map((line) => fill(line, values));
  const unique = lines.filter((line, k) => k === 0 || line !== lines[k - 1]);
  const pad = " ".repeat([...quantity.symbol].length);
  return unique.map((line, k) => `${k === 0 ? quantity.symbol : pad} = ${line}`).join("\n");
}

build();
document.body.dataset.ready = "true";
