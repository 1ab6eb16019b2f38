import { describe, expect, it } from 'vitest';
import { parseArrayLiteral } from './array-literal.js';

describe('parseArrayLiteral', () => {
  it('parses flat, nested and empty arrays', () => {
    expect(parseArrayLiteral('{1,2,3}')).toEqual(['1', '2', '3']);
    expect(parseArrayLiteral('{{a,b},{c,NULL}}')).toEqual([['a', 'b'], ['c', null]]);
    expect(parseArrayLiteral('{{{1}},{{2}}}')).toEqual([[['1']], [['2']]]);
    expect(parseArrayLiteral('{}')).toEqual([]);
  });
  it('unquoted NULL (any case) is null, quoted "NULL" a string, escaped \\NULL a string', () => {
    expect(parseArrayLiteral('{NULL,null,"NULL",\\NULL}')).toEqual([null, null, 'NULL', 'NULL']);
  });
  it('quoted elements keep delimiters, braces, spaces; backslash escapes any character', () => {
    expect(parseArrayLiteral('{"a,b","{x}"," lead","\\\\","\\"",""}')).toEqual(['a,b', '{x}', ' lead', '\\', '"', '']);
  });
  it('keeps non-ASCII text as is', () => {
    expect(parseArrayLiteral('{"żółw 🐢",naïve}')).toEqual(['żółw 🐢', 'naïve']);
  });
  it('skips a dimension decoration and whitespace around elements', () => {
    expect(parseArrayLiteral('[1:2][0:0]={{1},{2}}')).toEqual([['1'], ['2']]);
    expect(parseArrayLiteral('{ 1 , 2 }')).toEqual(['1', '2']);
  });
  it('uses the given delimiter', () => {
    expect(parseArrayLiteral('{(1,1),(0,0);(2,2),(1,1)}', ';')).toEqual(['(1,1),(0,0)', '(2,2),(1,1)']);
  });
  it('rejects malformed input with the offset', () => {
    expect(() => parseArrayLiteral('{1,2')).toThrow(/offset/);
    expect(() => parseArrayLiteral('{"a}')).toThrow(/unterminated/);
    expect(() => parseArrayLiteral('{1,}')).toThrow(/after delimiter/);
    expect(() => parseArrayLiteral('{1}x')).toThrow(/trailing/);
    expect(() => parseArrayLiteral('1,2')).toThrow(/expected "\{"/);
  });
});
