/**
 * chai's `to.throw` for promises. Functions that became async (they load protocol/'s Keccak) reject
 * where they used to throw; `expect(await settled(p)).to.throw(RangeError, /negative/)` makes the
 * same assertion on `p` that `expect(() => f()).to.throw(RangeError, /negative/)` made on `f`.
 */
export async function settled(p: Promise<unknown>): Promise<() => void> {
  try {
    await p;
  } catch (err) {
    return () => {
      throw err;
    };
  }
  return () => undefined;
}
