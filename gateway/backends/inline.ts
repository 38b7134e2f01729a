import { ClipModel, type ClipModelOptions } from '../../functions/clip';
import { describeModel, runEmbedRequest, type EmbedItem, type EmbedRequest, type ModelDescription } from '../../functions/protocol';
import type { InferenceBackend } from './backend';

/**
 * CLIP on the gateway's own event loop (LOCAL_WORKERS=0). ONNX Runtime's run() then blocks every
 * other request while it computes; it exists to measure what the worker pool buys, not to serve.
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
    return describeModel(this.model);
  }

  embed(request: EmbedRequest): Promise<EmbedItem[]> {
    if (!this.model) throw new Error('embed() before start()');
    return runEmbedRequest(this.model, request);
  }

  async ready(): Promise<boolean> {
    return this.model !== undefined;
  }

  async close(): Promise<void> {
    await this.model?.release();
  }
}
