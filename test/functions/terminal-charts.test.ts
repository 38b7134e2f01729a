import { bar, colourWanted, labelBars, similarityTable } from '../../functions/terminal-charts';

const ESCAPE = /\x1b\[\d+m/g;

describe('terminal charts', () => {
  it('draws bars to the eighth of a column', () => {
    expect(bar(0, 10)).toBe('');
    expect(bar(1, 10)).toBe('█'.repeat(10));
    expect(bar(0.5, 10)).toBe('█████');
    expect(bar(0.0125, 10)).toBe('▏');
    expect(bar(0.55, 10)).toBe('█████▌');
    expect(bar(0.5375, 10)).toBe('█████▍');
    // Out-of-range scores are clamped rather than drawn past the chart.
    expect(bar(1.5, 4)).toBe('████');
    expect(bar(-1, 4)).toBe('');
  });

  it('lines labels, bars and percentages up, with colour only when asked', () => {
    const scores = [
      { label: 'red circle', score: 0.75 },
      { label: 'star', score: 0.25 },
    ];
    const plain = labelBars(scores, { colour: false, width: 8 });
    expect(plain).toEqual(['red circle  ██████    75.0%', 'star        ██        25.0%']);
    const coloured = labelBars(scores, { colour: true, width: 8 });
    expect(coloured.join('')).toMatch(ESCAPE);
    expect(coloured.map((line) => line.replace(ESCAPE, ''))).toEqual(plain);
  });

  it('shades similarities from the lowest to the highest of the table and keys the columns', () => {
    const lines = similarityTable(
      ['red', 'blue'],
      ['a.jpg', 'b.png'],
      [
        [0.3, 0.1],
        [0.2, 0.25],
      ],
      { colour: false },
    );
    expect(lines).toEqual([
      // Each column number ends where its values end.
      '          #1         #2',
      'red    0.300 ██   0.100',
      'blue   0.200 ▒▒   0.250 ▓▓',
      '',
      '#1  a.jpg',
      '#2  b.png',
    ]);
  });

  it('wants colour on a terminal unless NO_COLOR or a dumb terminal says no; FORCE_COLOR forces it', () => {
    expect(colourWanted({ isTTY: true }, {})).toBe(true);
    expect(colourWanted({ isTTY: false }, {})).toBe(false);
    expect(colourWanted({ isTTY: true }, { NO_COLOR: '' })).toBe(false);
    expect(colourWanted({ isTTY: true }, { TERM: 'dumb' })).toBe(false);
    expect(colourWanted({ isTTY: false }, { FORCE_COLOR: '1' })).toBe(true);
    expect(colourWanted({ isTTY: true }, { FORCE_COLOR: '0' })).toBe(true);
  });
});
