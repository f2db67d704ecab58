/**
 * A served model on a GPU shape: one vLLM replica's rates and limits, and the GPUs it occupies.
 * The rates come from published vLLM benchmark figures (sources in docs/simulator.md, "Model
 * profiles"); `--model-profile NAME` picks one, and the individual flags still override a field.
 */
export interface ModelProfile {
  readonly name: string;
  readonly description: string;
  /** The replica model's fields (ReplicaModel) but the queue consumer's prefetch, which belongs to the front end. */
  readonly replica: {
    readonly prefillTokensPerSecond: number;
    readonly decodeTokensPerSecond: number;
    readonly decodeTokensPerSecondPerSequence: number;
    readonly maxNumSeqs: number;
    readonly kvCacheTokens: number;
  };
  readonly gpusPerPod: number;
  readonly gpusPerNode: number;
}

/**
 * Llama-3.1-8B-Instruct, BF16, on one A100 80 GB: the realtime example's Deployment
 * (`vllm serve meta-llama/Llama-3.1-8B-Instruct --max-num-seqs=64 --gpu-memory-utilization=0.90`
 * on Standard_NC24ads_A100_v4, one A100 per node).
 * - One sequence decodes at ~80 tokens/s (median time per output token 12 ms at low concurrency on an
 *   A100-80GB-SXM in Lambda's vLLM benchmark; ~75 tokens/s on an A100 40 GB in an independent sweep).
 * - A full batch decodes ~2,000 tokens/s (64 sequences at ~30 ms per step; batching gives 6.6× at
 *   8 concurrent requests in the same sweep, and keeps rising, sub-linearly, to 64).
 * - Prefill ~10,000 tokens/s: 2 × 8 B FLOPs per token against the A100's 312 dense BF16 TFLOP/s at
 *   roughly 50 % utilisation, consistent with the 139 ms TTFT measured for short prompts.
 * - KV cache ~400,000 tokens: 0.90 × 80 GB minus 16 GB of weights and ~4 GB of activations,
 *   at 128 KiB per token (32 layers × 8 KV heads × 128 dims × K and V × 2 bytes).
 */
export const LLAMA_3_1_8B_A100: ModelProfile = {
  name: "llama-3.1-8b-a100",
  description: "Llama-3.1-8B-Instruct BF16 on one A100 80 GB (the realtime example's Deployment)",
  replica: {
    prefillTokensPerSecond: 10_000,
    decodeTokensPerSecond: 2_000,
    decodeTokensPerSecondPerSequence: 80,
    maxNumSeqs: 64,
    kvCacheTokens: 400_000,
  },
  gpusPerPod: 1,
  gpusPerNode: 1,
};

/**
 * Llama-3.1-70B-Instruct, BF16, tensor parallel over the four A100 80 GB of one
 * Standard_NC96ads_A100_v4 node; a pod holds (and bills) all four GPUs.
 * - One sequence decodes at ~34 tokens/s (median time per output token 29.5 ms, Lambda's vLLM
 *   benchmark of Llama-3-70B at tensor parallelism 4 on 4× A100-80GB-SXM).
 * - A full batch decodes ~1,200 tokens/s (each GPU streams 35 GB of weights per step at ~2 TB/s:
 *   ~18 ms a step before attention; published 8× A100 runs reach ~1,500 tokens/s at batch 16).
 * - Prefill ~4,000 tokens/s: 2 × 70 B FLOPs per token against 4 × 312 TFLOP/s at ~45 %.
 * - KV cache ~400,000 tokens: 4 × (0.90 × 80 GB − 35 GB weights − ~4 GB) at 320 KiB per token
 *   (80 layers × 8 KV heads × 128 dims × K and V × 2 bytes).
 */
export const LLAMA_3_1_70B_TP4_A100: ModelProfile = {
  name: "llama-3.1-70b-tp4-a100",
  description: "Llama-3.1-70B-Instruct BF16, tensor parallel over 4 A100 80 GB (4 GPUs per pod)",
  replica: {
    prefillTokensPerSecond: 4_000,
    decodeTokensPerSecond: 1_200,
    decodeTokensPerSecondPerSequence: 34,
    maxNumSeqs: 64,
    kvCacheTokens: 400_000,
  },
  gpusPerPod: 4,
  gpusPerNode: 4,
};

export const MODEL_PROFILES: Readonly<Record<string, ModelProfile>> = {
  [LLAMA_3_1_8B_A100.name]: LLAMA_3_1_8B_A100,
  [LLAMA_3_1_70B_TP4_A100.name]: LLAMA_3_1_70B_TP4_A100,
};

export const DEFAULT_MODEL_PROFILE = LLAMA_3_1_8B_A100;
