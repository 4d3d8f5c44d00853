import { meanInterval95, placeAgainst } from '../lib/interval';

describe('meanInterval95', () => {
  test('fiveRounds_givesTheStudentTInterval', () => {
    // mean 0.62, sample variance 0.0038 / 4, t(0.975, 4) = 2.776: half-width 0.0383.
    const i = meanInterval95([0.66, 0.6, 0.63, 0.58, 0.63])!;
    expect(i.mean).toBeCloseTo(0.62, 10);
    expect(i.high - i.mean).toBeCloseTo(2.776 * Math.sqrt(0.00095 / 5), 6);
    expect(i.mean - i.low).toBeCloseTo(i.high - i.mean, 12);
    expect(i.n).toBe(5);
  });

  test('equalValues_giveAnIntervalOfNoWidth', () => {
    expect(meanInterval95([0.5, 0.5, 0.5])).toEqual({ mean: 0.5, low: 0.5, high: 0.5, n: 3 });
  });

  test('oneValue_givesNoInterval', () => {
    expect(meanInterval95([0.6])).toBeUndefined();
    expect(meanInterval95([])).toBeUndefined();
  });

  test('manyValues_useTheNormalQuantile', () => {
    const xs = Array.from({ length: 40 }, (_, k) => (k % 2 ? 1 : 0));
    const i = meanInterval95(xs)!;
    const sd = Math.sqrt((40 * 0.25) / 39);
    expect(i.high - i.mean).toBeCloseTo((1.96 * sd) / Math.sqrt(40), 10);
  });
});

describe('placeAgainst', () => {
  const i = { mean: 0.62, low: 0.58, high: 0.66, n: 5 };
  test('aTargetUnderTheInterval_isBelow', () => expect(placeAgainst(i, 0.55)).toBe('below'));
  test('aTargetWithinTheInterval_isInside', () => expect(placeAgainst(i, 0.6)).toBe('inside'));
  test('aTargetOverTheInterval_isAbove', () => expect(placeAgainst(i, 0.7)).toBe('above'));
});
