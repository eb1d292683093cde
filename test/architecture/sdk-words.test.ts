/**
 * The SDK is a library: its messages and hints speak its own terms. Command lines (`based …`) and
 * flags (`--max-fee`) are the command's business (cli/ui/hints.ts adds them).
 */
import { expect } from "chai";
import fs from "node:fs";
import path from "node:path";
import ts from "typescript";
import { ROOT } from "../helpers/processes";

/** Every string and template literal in `file`, with its line. */
function literals(file: string): { line: number; text: string }[] {
  const text = fs.readFileSync(file, "utf8");
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found: { line: number; text: string }[] = [];
  const visit = (node: ts.Node) => {
    if (
      ts.isStringLiteralLike(node) ||
      ts.isTemplateHead(node) ||
      ts.isTemplateMiddle(node) ||
      ts.isTemplateTail(node)
    ) {
      found.push({ line: source.getLineAndCharacterOfPosition(node.getStart()).line + 1, text: node.text });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

const CLI_WORDS = /(^|[\s(`'"])--[a-z][a-z-]+|`based [a-z]/;

function sdkFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) =>
      e.isDirectory()
        ? sdkFiles(path.join(dir, e.name))
        : e.name.endsWith(".ts")
          ? [path.join(dir, e.name)]
          : [],
    );
}

describe("architecture: the SDK names no command line or flag", () => {
  it("no string in sdk/ names a `based` command or a --flag", () => {
    const offenders = sdkFiles(path.join(ROOT, "sdk")).flatMap((file) =>
      literals(file)
        .filter((l) => CLI_WORDS.test(l.text))
        // The config loader takes the command's flags as input and names the one that is wrong.
        .filter((l) => !(file.endsWith(path.join("node", "config.ts")) && /^--[a-z-]+$/.test(l.text)))
        .map((l) => `${path.relative(ROOT, file)}:${l.line}: ${l.text}`),
    );
    expect(offenders).to.deep.equal([]);
  });

  it("the check finds a flag or a command in a message", () => {
    expect(CLI_WORDS.test("Pass --max-fee 50 to accept it.")).to.equal(true);
    expect(CLI_WORDS.test("run `based stake show`")).to.equal(true);
    expect(CLI_WORDS.test("Raise your maximum fee")).to.equal(false);
  });
});
