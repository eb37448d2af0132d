import assert from "node:assert/strict";
import {
  CALCULATOR_LIMITS,
  type CalculatorResult,
  evaluateCalculator,
  formatPythonFloat,
  pythonStrCount,
} from "../../src/engine/calculator.ts";

function ok(expr: string): string {
  const r = evaluateCalculator(expr);
  if (!r.ok) assert.fail(`${JSON.stringify(expr)} failed: ${r.error}`);
  return r.value;
}

/** Evaluate, assert an error (with an optional message fragment) and a time bound. */
function fails(expr: string, fragment?: string | RegExp, maxMs = 50): string {
  const t0 = performance.now();
  const r: CalculatorResult = evaluateCalculator(expr);
  const ms = performance.now() - t0;
  const label = expr.length > 60
    ? `${JSON.stringify(expr.slice(0, 60))}… (${expr.length} chars)`
    : JSON.stringify(expr);
  assert.ok(!r.ok, `${label} should fail, got ${r.ok ? r.value : ""}`);
  if (r.ok) throw new Error("unreachable");
  assert.match(r.error, /^error: \S/, `${label}: ${r.error}`);
  assert.ok(r.error.length < 200, `${label}: error too long for the model: ${r.error}`);
  if (typeof fragment === "string") assert.ok(r.error.includes(fragment), `${label}: ${r.error}`);
  else if (fragment) assert.match(r.error, fragment, `${label}`);
  assert.ok(ms < maxMs, `${label} took ${ms.toFixed(1)} ms`);
  return r.error;
}

// Each expected value is what `python3 -c 'print(repr(EXPR))'` prints (Python 3.12).
const PYTHON_TABLE: [string, string][] = [
  ["1+2*3", "7"],
  ["(1+2)*3", "9"],
  ["10-4-3", "3"],
  ["2*3+4*5", "26"],
  ["7/2", "3.5"],
  ["6/3", "2.0"],
  ["1/3", "0.3333333333333333"],
  ["2/3*3", "2.0"],
  ["-3", "-3"],
  ["--3", "3"],
  ["+-+3", "-3"],
  ["-2**2", "-4"],
  ["(-2)**2", "4"],
  ["2**-1", "0.5"],
  ["2**-2**2", "0.0625"],
  ["2**3**2", "512"],
  ["2**10", "1024"],
  ["2**0.5", "1.4142135623730951"],
  ["0**0", "1"],
  ["(-1)**1001", "-1"],
  ["(-8)**3", "-512"],
  ["-8**(1/3)", "-2.0"],
  ["10**20", "100000000000000000000"],
  [
    "10**299",
    "100000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
  ],
  [
    "2**996",
    "669692879491417075592765655662501131600878007315958504652343992731469406953085076558248986759809911329746670573470716765741965803557696277249036098418660925245910485926514436588817162816398196367372136384565404686473871329212422972447846496629816432160699779855408885478776864478289024177325354254336",
  ],
  ["3.0**2", "9.0"],
  ["4**0.5", "2.0"],
  ["1.5e3", "1500.0"],
  ["1e3", "1000.0"],
  ["1E-3", "0.001"],
  ["2.5e-3*4", "0.01"],
  [".5+.25", "0.75"],
  ["1.", "1.0"],
  ["1.e5", "100000.0"],
  ["0.1+0.2", "0.30000000000000004"],
  ["0.1*3", "0.30000000000000004"],
  ["1e16", "1e+16"],
  ["1e15", "1000000000000000.0"],
  ["123456789012345678.0", "1.2345678901234568e+17"],
  ["0.0001", "0.0001"],
  ["0.00001", "1e-05"],
  ["1/7e10", "1.4285714285714286e-11"],
  ["-0.0", "-0.0"],
  ["0*-1.0", "-0.0"],
  ["100*1.1", "110.00000000000001"],
  ["12345678901234567890*98765432109876543210", "1219326311370217952237463801111263526900"],
  ["99999999999999999999+1", "100000000000000000000"],
  ["2**53+1", "9007199254740993"],
  ["(2**53+1)/1", "9007199254740992.0"],
  ["5-5.0", "0.0"],
  ["3*(4+(5-(6*(7-8))))", "45"],
  ["1000000/3", "333333.3333333333"],
  ["22/7", "3.142857142857143"],
  ["-7/2", "-3.5"],
  ["1234*2", "2468"],
  ["1000000+2500", "1002500"],
  ["'strawberry'.count('r')", "3"],
  ['"strawberry".count("r")', "3"],
  ["'banana'.count('an')", "2"],
  ["'aaaa'.count('aa')", "2"],
  ["'aaa'.count('')", "4"],
  ["''.count('')", "1"],
  ["'abc'.count('z')", "0"],
  ["'Mississippi'.count('ss')+'Mississippi'.count('i')*2", "10"],
  ["'a,b,c'.count(',')", "2"],
  ["'strawberry' .count( 'r' )", "3"],
  ["'it\\'s'.count(\"'\")", "1"],
];

Deno.test("calculator: arithmetic, precedence, int/float results and .count match Python's repr", () => {
  for (const [expr, want] of PYTHON_TABLE) {
    assert.equal(ok(expr), want, expr);
  }
});

Deno.test("calculator: reference input conventions (commas, Unicode operators, whitespace)", () => {
  // The reference drops commas before eval; we drop them between integer digits.
  assert.equal(ok("1,234*2"), "2468");
  assert.equal(ok("1,000,000/4"), "250000.0");
  assert.equal(ok("12,345.5+0.5"), "12346.0");
  assert.equal(ok("3 × 4 ÷ 2 − 1"), "5.0");
  assert.equal(ok("−2**2"), "-4");
  assert.equal(ok("  ( 1 +\t2 ) * 3\n"), "9");
  assert.equal(ok("'a,b'.count(',')"), "1"); // commas inside strings are kept
});

Deno.test("calculator: Python float repr formatting", () => {
  const cases: [number, string][] = [
    [1e22, "1e+22"],
    [1.5e-7, "1.5e-07"],
    [5e-324, "5e-324"],
    [1.7976931348623157e308, "1.7976931348623157e+308"],
    [123.456, "123.456"],
    [1e-4, "0.0001"],
    [-1e-5, "-1e-05"],
    [1e16, "1e+16"],
    [9999999999999998, "9999999999999998.0"],
    [1234567, "1234567.0"],
    [-2.5e-5, "-2.5e-05"],
    [0.1, "0.1"],
    [100, "100.0"],
    [-1234.5, "-1234.5"],
    [1.4142135623730951e20, "1.4142135623730951e+20"],
    [3.3333333333333335e-11, "3.3333333333333335e-11"],
    [0, "0.0"],
    [-0, "-0.0"],
  ];
  for (const [x, want] of cases) assert.equal(formatPythonFloat(x), want, String(x));
});

Deno.test("calculator: str.count semantics (non-overlapping, empty needle = len+1 code points)", () => {
  assert.equal(pythonStrCount("strawberry", "r"), 3);
  assert.equal(pythonStrCount("aaaa", "aa"), 2);
  assert.equal(pythonStrCount("aaa", ""), 4);
  assert.equal(pythonStrCount("", ""), 1);
  assert.equal(pythonStrCount("😀😀", ""), 3); // Python counts code points, not UTF-16 units
  assert.equal(pythonStrCount("😀a😀", "😀"), 2);
});

Deno.test("calculator: arithmetic errors are error strings", () => {
  fails("1/0", "division by zero");
  fails("1.0/0", "division by zero");
  fails("5/(2-2)", "division by zero");
  fails("0**-1", "division by zero");
  fails("(-8)**(1/3)", "complex");
  fails("1e308*10", "too large");
  fails("1e999", "too large");
  fails("2.0**10000", "too large");
  fails("", "empty");
  fails("   ", "empty");
  fails("1+", "unexpected end");
  fails("(1+2", "unbalanced");
  fails("1+2)", "unbalanced");
  fails("007", "leading zeros");
  fails("2 3", "position 2");
  fails("2(3)", "position 1");
  fails("'abc'", "only allowed as 'text'.count");
  fails("'abc'.count(1)", ".count() takes one string literal");
  fails("'abc'.count('a', 1)", "unsupported syntax at position 15: ','");
  fails("'abc'.count('a'", ".count() takes one string literal");
  fails("'abc", "unterminated string");
  fails("'a\\qb'.count('a')", "unsupported escape");
});

Deno.test("calculator: huge powers and integer results are refused quickly", () => {
  fails("9**9**9", "too large");
  fails("10**10000", "too large");
  fails("2**1000", "too large"); // 302 digits
  fails("10**300", "too large"); // 301 digits
  fails("(10**150)*(10**150)", "too large");
  fails("-(10**299)*10", "too large");
  fails("99**99**99**99", "too large");
  fails("(2**996)**2", "too large");
  fails("1" + "0".repeat(CALCULATOR_LIMITS.maxIntDigits), "number too long");
  assert.equal(ok("10**299").length, 300);
  assert.equal(ok("-(10**299)").length, 301);
  assert.equal(ok("2**-10000"), "0.0"); // Python: int ** negative int goes through float
  assert.equal(ok("1**(10**299)"), "1");
  assert.equal(ok("(-1)**(10**299+1)"), "-1");
  assert.equal(ok("0**(10**299)"), "0");
});

Deno.test("calculator: hostile and non-arithmetic inputs fail fast with a clear error", () => {
  const hostile: [string, string | RegExp][] = [
    ["__import__('os')", "unsupported syntax at position 0: '__import__'"],
    ["__import__('os').system('ls')", "'__import__'"],
    ["open('x')", "unsupported syntax at position 0: 'open'"],
    ["[1]*10", "unsupported syntax at position 0: '['"],
    ["lambda: 1", "unsupported syntax at position 0: 'lambda'"],
    ["'a'.upper()", "unsupported syntax at position 4: 'upper'"],
    ["'a'.__class__", "'__class__'"],
    ["'a'.count", "unexpected end"],
    ["(1).count('a')", "position 3: '.'"],
    ["1; 2", "unsupported syntax at position 1: ';'"],
    ["a=1", "unsupported syntax at position 0: 'a'"],
    ["x", "'x'"],
    ["1 if 1 else 2", "'if'"],
    ["7 // 2", "'//'"],
    ["7 % 2", "'%'"],
    ["1 < 2", "'<'"],
    ["1 == 1", "'='"],
    ["{1: 2}", "'{'"],
    ["(1, 2)", "','"],
    ["0x10", "'x10'"],
    ["1_000", "'_000'"],
    ["1j", "'j'"],
    ["exec('1')", "'exec'"],
    ["eval('1')", "'eval'"],
    ["getattr(1, 'real')", "'getattr'"],
    ["f'{1}'", "'f'"],
    ["1 @ 2", "'@'"],
    ["`1`", "'`'"],
    ["1 + 2 # comment", "'#'"],
    ["\\x41", "'\\'"],
    ["print(1)\nimport os", "'print'"],
    ["1.count('a')", "'count'"],
    ["😀", "'😀'"],
  ];
  for (const [expr, fragment] of hostile) fails(expr, fragment);
});

Deno.test("calculator: size and nesting bounds", () => {
  const deep = "(".repeat(10_000) + "1" + ")".repeat(10_000);
  fails(deep, "expression too long");
  fails("1+".repeat(5_000) + "1", "expression too long");
  fails("1".repeat(1_000_000), "expression too long");
  // Within the character limit but past the other bounds.
  fails("(".repeat(60) + "1" + ")".repeat(60), "nested too deeply");
  fails("-".repeat(100) + "1", "nested too deeply");
  fails("2**".repeat(60) + "1", "nested too deeply");
  fails("1+".repeat(499) + "1", "more than 500 tokens");
  fails(`'${"a".repeat(600)}'.count('a')`, "string literal too long");
  // Just inside the bounds.
  assert.equal(ok("(".repeat(50) + "1" + ")".repeat(50)), "1");
  assert.equal(ok("-".repeat(50) + "1"), "1");
  assert.equal(ok("1+".repeat(249) + "1"), "250");
  assert.equal(ok(`'${"ab".repeat(200)}'.count('b')`), "200");
  assert.equal(ok(`'${"a".repeat(CALCULATOR_LIMITS.maxStringChars)}'.count('a')`), String(CALCULATOR_LIMITS.maxStringChars));
  fails(`'${"a".repeat(CALCULATOR_LIMITS.maxStringChars + 1)}'.count('a')`, "string literal too long");
});

Deno.test("calculator: never throws and stays fast on random junk", () => {
  const alphabet = "0123456789+-*/.()eE ,'\"ax_×÷−[]=;\\\n*";
  let seed = 12345;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const t0 = performance.now();
  for (let n = 0; n < 3000; n++) {
    const len = Math.floor(rand() * 40);
    let s = "";
    for (let i = 0; i < len; i++) s += alphabet[Math.floor(rand() * alphabet.length)];
    const r = evaluateCalculator(s);
    if (r.ok) assert.equal(typeof r.value, "string");
    else assert.match(r.error, /^error: /, s);
  }
  assert.ok(performance.now() - t0 < 2000);
});

Deno.test("calculator: a lone dot is not a number; float powers at 0 and 1 follow Python", () => {
  fails(".", "unsupported syntax at position 0");
  fails("1 + .", "unsupported syntax at position 4");
  assert.equal(ok("1.5 + .5"), "2.0");
  assert.equal(ok("0.0 ** 0"), "1.0");
  assert.equal(ok("1.0 ** -2"), "1.0");
  assert.equal(ok("1 ** -2"), "1.0");
  fails("0.0 ** -1", "division by zero");
  fails("0 ** -2", "division by zero");
});
