import type { EmbedRequest, EmbedResult, ModelDescription } from '../../functions/clip';
import { ClipModel, type ClipModelOptions } from '../../functions/clip/model';
import type { InferenceBackend } from './backend';

/**
 * CLIP on the gateway's own event loop (LOCAL_WORKERS=0). ONNX Runtime's run() then blocks every
 * other request while it computes; it exists to measure what the worker pool buys, and for tests
 * that want the real model without a worker thread.
 */
export class InlineBackend implements InferenceBackend {
  readonly kind = 'local' as const;
  readonly concurrency = 1;
  private model?: ClipModel;

  constructor(
    private readonly modelDir: string,
    private readonly options: Partial<ClipModelOptions>,
  ) {}

  async start(): Promise<ModelDescription> {
    this.model = await ClipModel.load(this.modelDir, this.options);
    return this.model.describe();
  }

  embed(request: EmbedRequest): Promise<EmbedResult[]> {
    if (!this.model) throw new Error('embed() before start()');
    return this.model.embed(request);
  }

  async ready(): Promise<boolean> {
    return this.model !== undefined;
  }

  async close(): Promise<void> {
    await this.model?.release();
  }
}
