import { describe, expect, it } from 'vitest';
import { base64UrlBytes } from './push';

describe('base64UrlBytes', () => {
  it('reads unpadded base64url, the alphabet\'s URL characters included', () => {
    expect([...base64UrlBytes('AQID')]).toEqual([1, 2, 3]);
    expect([...base64UrlBytes('-_8')]).toEqual([251, 255]);
    expect([...base64UrlBytes('AA')]).toEqual([0]);
    // A VAPID key: the uncompressed point, 65 bytes starting with 4.
    const key = base64UrlBytes('BA' + 'A'.repeat(85));
    expect(key.length).toBe(65);
    expect(key[0]).toBe(4);
  });
});
