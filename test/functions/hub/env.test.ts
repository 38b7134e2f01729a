import { homedir } from 'node:os';
import { join } from 'node:path';

import { hubCacheDir, hubSettingsFromEnv, modelSourceFromEnv } from '../../../functions/hub';

describe('modelSourceFromEnv', () => {
  it('is the bundled tiny CLIP when neither CLIP_MODEL_DIR nor CLIP_MODEL is set', () => {
    expect(modelSourceFromEnv({})).toEqual({ kind: 'bundled' });
    expect(modelSourceFromEnv({ CLIP_MODEL: ' ', CLIP_MODEL_DIR: '' })).toEqual({ kind: 'bundled' });
  });

  it('keeps CLIP_MODEL_DIR a directory', () => {
    expect(modelSourceFromEnv({ CLIP_MODEL_DIR: 'models/clip' })).toEqual({ kind: 'directory', directory: 'models/clip' });
  });

  it('reads CLIP_MODEL as a hub repo at main, with huggingface_hub’s defaults', () => {
    expect(modelSourceFromEnv({ CLIP_MODEL: 'Xenova/clip-vit-base-patch32' })).toEqual({
      kind: 'hub',
      hub: {
        repo: 'Xenova/clip-vit-base-patch32',
        revision: 'main',
        cacheDir: join(homedir(), '.cache', 'huggingface', 'hub'),
        endpoint: 'https://huggingface.co',
        token: undefined,
        tokenPath: join(homedir(), '.cache', 'huggingface', 'token'),
        offline: false,
      },
    });
  });

  it('reads every hub variable', () => {
    const source = modelSourceFromEnv({
      CLIP_MODEL: 'owner/model',
      CLIP_MODEL_REVISION: 'refs/pr/1',
      HF_HOME: '/srv/hf',
      HF_ENDPOINT: 'https://mirror.example/',
      HF_TOKEN: 'hf_abc',
      HF_HUB_OFFLINE: '1',
    });
    expect(source).toEqual({
      kind: 'hub',
      hub: {
        repo: 'owner/model',
        revision: 'refs/pr/1',
        cacheDir: '/srv/hf/hub',
        endpoint: 'https://mirror.example',
        token: 'hf_abc',
        tokenPath: '/srv/hf/token',
        offline: true,
      },
    });
  });

  it('refuses CLIP_MODEL_DIR and CLIP_MODEL together, and a revision without a repo', () => {
    expect(() => modelSourceFromEnv({ CLIP_MODEL_DIR: '/models/a', CLIP_MODEL: 'owner/b' })).toThrow(
      'CLIP_MODEL_DIR ("/models/a") and CLIP_MODEL ("owner/b") are both set: set CLIP_MODEL_DIR for a model directory on disk or CLIP_MODEL for a Hugging Face repo, not both',
    );
    expect(() => modelSourceFromEnv({ CLIP_MODEL_REVISION: 'v1' })).toThrow('CLIP_MODEL_REVISION is set ("v1") without CLIP_MODEL');
  });

  it('names the variable and its value for a bad repo id, revision, endpoint or offline flag', () => {
    expect(() => modelSourceFromEnv({ CLIP_MODEL: 'a/b/c' })).toThrow(
      'CLIP_MODEL must be a Hugging Face repo id such as Xenova/clip-vit-base-patch32, got "a/b/c"',
    );
    expect(() => modelSourceFromEnv({ CLIP_MODEL: '../etc' })).toThrow(/CLIP_MODEL must be .*got "\.\.\/etc"/);
    expect(() => modelSourceFromEnv({ CLIP_MODEL: 'o/m', CLIP_MODEL_REVISION: '../../x' })).toThrow(
      'CLIP_MODEL_REVISION must be a branch, tag or commit hash such as main, v1.0 or refs/pr/1, got "../../x"',
    );
    expect(() => modelSourceFromEnv({ CLIP_MODEL: 'o/m', HF_ENDPOINT: 'ftp://x' })).toThrow(
      'HF_ENDPOINT must be an http(s) URL, got "ftp://x"',
    );
    expect(() => modelSourceFromEnv({ CLIP_MODEL: 'o/m', HF_HUB_OFFLINE: 'maybe' })).toThrow(
      'HF_HUB_OFFLINE must be true or false, got "maybe"',
    );
  });

  it('never quotes HF_TOKEN', () => {
    const attempt = (token: string) => () => modelSourceFromEnv({ CLIP_MODEL: 'o/m', HF_TOKEN: token });
    expect(attempt('secret-value')).toThrow(
      'HF_TOKEN does not start with hf_ (its value is not shown); it must be a Hugging Face access token (hf_...)',
    );
    expect(attempt('hf_secret value')).toThrow('HF_TOKEN contains white space (its value is not shown)');
    for (const token of ['secret-value', 'hf_secret value']) {
      expect(() => attempt(token)()).not.toThrow(/secret/);
    }
  });
});

describe('hubCacheDir', () => {
  it('follows huggingface_hub: HF_HUB_CACHE, then HUGGINGFACE_HUB_CACHE, then $HF_HOME/hub, then $XDG_CACHE_HOME/huggingface/hub', () => {
    expect(hubCacheDir({ HF_HUB_CACHE: '/a', HUGGINGFACE_HUB_CACHE: '/b', HF_HOME: '/c' })).toBe('/a');
    expect(hubCacheDir({ HUGGINGFACE_HUB_CACHE: '/b', HF_HOME: '/c' })).toBe('/b');
    expect(hubCacheDir({ HF_HOME: '/c', XDG_CACHE_HOME: '/d' })).toBe('/c/hub');
    expect(hubCacheDir({ XDG_CACHE_HOME: '/d' })).toBe('/d/huggingface/hub');
    expect(hubCacheDir({ HF_HUB_CACHE: '~/models' })).toBe(join(homedir(), 'models'));
  });

  it('is what hubSettingsFromEnv uses, with HF_TOKEN_PATH for the token file', () => {
    expect(hubSettingsFromEnv({ HF_HUB_CACHE: '/a', HF_TOKEN_PATH: '/secrets/hf' })).toMatchObject({
      cacheDir: '/a',
      tokenPath: '/secrets/hf',
    });
  });
});
