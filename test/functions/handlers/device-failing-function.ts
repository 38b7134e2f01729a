// The function process (runFunctionProcess, as http.js runs it) serving the real tiny CLIP, whose
// embed call number FAIL_ON_EMBED (default 2) throws the DeviceError a failed GPU causes. CUDA
// cannot run where the tests run: this is the stand-in for the GPU, everything else is real.
// Run with `node --import tsx`.
import { ClipModel } from '../../../functions/clip/model';
import { runFunctionProcess } from '../../../functions/handlers/http';
import { TINY_CLIP_DIR } from '../../helpers/tiny-clip';
import { deviceFailure, scriptedModel } from './scripted-model';

const failOn = Number(process.env.FAIL_ON_EMBED ?? 2);
void runFunctionProcess({
  loadModel: async () =>
    scriptedModel(await ClipModel.load(TINY_CLIP_DIR, { log: () => {}, intraOpThreads: 1 }), (call) => {
      if (call === failOn) throw deviceFailure();
    }),
});
