/**
 * The tokens every store indexes and queries with (common/search-text.ts): words by the
 * segmenter, normalized; CJK runs as bigrams; highlights as offsets into the original text.
 */
import { describe, expect, it } from 'vitest';
import {
  SEARCH_TERMS_MAX,
  SEARCH_TOKENS_MAX,
  fts5Query,
  highlights,
  indexTokens,
  queryTerms,
  relevance,
  tsQuery,
  tsVector,
  wholeWords,
} from '@parley/server/dist/store/common/search-text.js';

describe('search text', () => {
  it('folds case, accents and compatibility forms, and cuts words at punctuation', () => {
    expect(indexTokens("Café CRÈME, Straße ﬁne: don’t don't ÀÉÎÕÜ Ωμέγα Ёлка 3.14 foo_bar")).toBe(
      'cafe creme strasse fine don t don t aeiou ωμεγα елка 3 14 foo bar',
    );
  });

  it('finds the same words in Latin text with or without the segmenter', () => {
    const latin =
      'Hello, World! Ça va? e.g. x2y 1,000 naïve Ωμέγα ﬁne\u00adtuning e\u0301te\u0301 😀 fin. Ⅻ ª ﬀ ǅ ŉ';
    // A Thai word makes the whole text go through the segmenter.
    expect(indexTokens(`${latin} ไป`)).toBe(`${indexTokens(latin)} ไป`);
  });

  it('segments Thai by its words and CJK runs into bigrams plus the last character', () => {
    expect(indexTokens('ฉันไปกรุงเทพ')).toBe('ฉัน ไป กรุงเทพ');
    expect(indexTokens('我们明天去北京')).toBe('我们 们明 明天 天去 去北 北京 京');
    expect(indexTokens('東京に行きます')).toBe('東京 京に に行 行き きま ます す');
    expect(indexTokens('서울에 갑니다')).toBe('서울 울에 에 갑니 니다 다');
    expect(indexTokens('第3回 meeting')).toBe('第 3 回 meeting');
  });

  it('makes query terms: words, the last as a prefix from two letters, CJK runs as phrases', () => {
    expect(queryTerms('Café cr')).toEqual([
      { tokens: ['cafe'], prefix: false },
      { tokens: ['cr'], prefix: true, typed: true },
    ]);
    expect(queryTerms('see a')).toEqual([
      { tokens: ['see'], prefix: false },
      { tokens: ['a'], prefix: false },
    ]);
    expect(queryTerms('北京大学')).toEqual([{ tokens: ['北京', '京大', '大学'], prefix: false }]);
    expect(queryTerms('京')).toEqual([{ tokens: ['京'], prefix: true }]);
    expect(queryTerms(' ?! ')).toEqual([]);
    expect(queryTerms('a a a b')).toHaveLength(2);
    expect(queryTerms(Array.from({ length: 40 }, (_, i) => `w${i}`).join(' '))).toHaveLength(
      SEARCH_TERMS_MAX,
    );
  });

  it('offers the query with its last word whole, when it was typed as a prefix', () => {
    expect(wholeWords(queryTerms('Café cr'))).toEqual([
      { tokens: ['cafe'], prefix: false },
      { tokens: ['cr'], prefix: false },
    ]);
    expect(wholeWords(queryTerms('see a'))).toBeNull();
    expect(wholeWords(queryTerms('京'))).toBeNull();
  });

  it('scores relevance from the text: more occurrences higher, longer texts lower, any script', () => {
    const apple = queryTerms('apple');
    expect(relevance('apple apple apple', apple)).toBeGreaterThan(relevance('an apple', apple));
    expect(relevance('an apple', apple)).toBeGreaterThan(
      relevance('an apple with a long tail of other words after it, many of them', apple),
    );
    // Same number of words, same score, whatever their length in letters.
    expect(relevance('new apple pie', apple)).toBe(relevance('newer apple pie', apple));
    // Accents and case fold as in the index; a CJK phrase counts where it occurs.
    expect(relevance('CAFÉ café', queryTerms('cafe'))).toBeGreaterThan(relevance('café', queryTerms('cafe')));
    expect(relevance('北京北京', queryTerms('北京'))).toBeGreaterThan(relevance('北京', queryTerms('北京')));
    expect(relevance('กรุงเทพ', queryTerms('กรุงเทพ'))).toBeGreaterThan(0);
  });

  it('writes the same terms for both engines', () => {
    const terms = queryTerms('北京 cafe caf');
    expect(fts5Query(terms)).toBe('"北京" AND "cafe" AND "caf"*');
    expect(tsQuery(terms)).toBe(`'北京' & 'cafe' & 'caf':*`);
    expect(tsQuery(queryTerms('北京大学'))).toBe(`('北京' <-> '京大' <-> '大学')`);
    expect(tsVector('Hi hi 北京')).toBe(`'hi':1 'hi':2 '北京':3 '京':4`);
  });

  it('highlights matches in the original text, overlaps merged', () => {
    const text = 'Le Café de Flore, café au lait';
    expect(highlights(text, queryTerms('cafe'))).toEqual([
      [3, 7],
      [18, 22],
    ]);
    expect(highlights('北京大学很好', queryTerms('京大'))).toEqual([[1, 3]]);
    expect(highlights('北京大学很好', queryTerms('北京 京大'))).toEqual([[0, 3]]);
    expect(highlights('東京に行きます', queryTerms('京'))).toEqual([[1, 2]]);
    // Offsets are UTF-16: a character outside the BMP counts two.
    expect(highlights('😀 cafe', queryTerms('cafe'))).toEqual([[3, 7]]);
  });

  it('bounds what one message indexes', () => {
    const long = Array.from({ length: SEARCH_TOKENS_MAX + 50 }, (_, i) => `w${i}`).join(' ');
    expect(indexTokens(long).split(' ')).toHaveLength(SEARCH_TOKENS_MAX);
    expect(indexTokens('x'.repeat(500))).toBe('x'.repeat(32));
  });
});
