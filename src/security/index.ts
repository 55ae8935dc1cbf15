/**
 * rxon security: canonical JSON, HMAC-SHA256 and Ed25519 signatures, the message verifier with
 * replay protection, signed bubbling chains, and mTLS helpers. See docs/security.md.
 */
export {
  canonicalize,
  signingText,
  hashPayload,
  compareCodePoints,
  type SigningTextOptions,
  type CanonicalRefusal,
} from "../wire/canonical.js";
export { signHmac, verifyHmac, hmacHex, HMAC_SIGNATURE_LENGTH } from "./hmac.js";
export {
  Ed25519PrivateKey,
  Ed25519PublicKey,
  generateEd25519KeyPair,
  importEd25519PrivateKey,
  importEd25519PublicKey,
  keyId,
  signEd25519,
  verifyEd25519,
  signEd25519Bytes,
  verifyEd25519Bytes,
  setEd25519Backend,
  getEd25519Backend,
  ED25519_SIGNATURE_LENGTH,
  type Ed25519Backend,
} from "./ed25519.js";
export { signMessage, type SignMessageOptions, type SignedMessage } from "./sign-message.js";
export { signTask, verifyTaskSignature, TASK_SIGNATURE_IGNORED_FIELDS } from "./task-signature.js";
export { ReplayGuard, replayIdentity, type ReplayGuardOptions, type ReplayVerdict } from "./replay.js";
export {
  MessageVerifier,
  type SignerKey,
  type SignerKeyLookup,
  type VerifierOptions,
  type MessageKind,
} from "./verifier.js";
export {
  verifyChain,
  signChainHop,
  forwardEvent,
  eventCore,
  chainHopText,
  EVENT_CORE_FIELDS,
  type ChainKeyResolver,
  type ChainFailure,
  type ChainVerdict,
} from "./chain.js";
export {
  serverTlsOptions,
  clientTlsOptions,
  peerIdentity,
  parseSubjectAltNames,
  type PemInput,
  type ServerTlsInput,
  type ServerTlsOptions,
  type ClientTlsInput,
  type ClientTlsOptions,
  type PeerIdentity,
} from "./tls.js";
