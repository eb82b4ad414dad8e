//! Constants of `SIGAbortingTargetSumLifetime32Dim46Base8`.
//!
//! Source: leanSig c08a3ba, `src/signature/generalized_xmss/instantiations_aborting.rs`
//! (module `lifetime_2_to_the_32`), `src/lib.rs` (tweak separators),
//! `src/symmetric/prf/shake_to_field.rs` (PRF); leanSpec `spec/crypto/xmss/constants.py`
//! (`PROD_CONFIG`). Lengths are in field elements (FE) unless stated otherwise.

/// Field modulus p = 2^31 - 2^24 + 1 = 127 * 8^8 + 1 (KoalaBear).
pub const P: u32 = 0x7f00_0001;

/// Base-2 log of the key lifetime: epochs are `0 .. 2^32`, the Merkle tree has 32 levels.
pub const LOG_LIFETIME: usize = 32;
/// Number of epochs a key can ever cover, 2^32.
pub const LIFETIME: u64 = 1 << LOG_LIFETIME;
/// Leaves (epochs) per bottom tree, 2^(LOG_LIFETIME / 2) = 2^16.
pub const LEAVES_PER_BOTTOM_TREE: u64 = 1 << (LOG_LIFETIME / 2);

/// v: number of hash chains, i.e. digits of a codeword.
pub const DIMENSION: usize = 46;
/// w: chain length (positions `0 ..= BASE - 1`) and the base of codeword digits.
pub const BASE: usize = 8;
/// Required sum of the 46 codeword digits.
pub const TARGET_SUM: usize = 200;
/// z: base-8 digits extracted from each message-hash output element.
pub const Z: usize = 8;
/// Q: quotient of the aborting decomposition, p = Q * BASE^Z + 1.
pub const Q: u32 = 127;
/// Q * BASE^Z = p - 1: an output element `>=` this value makes the message hash abort.
pub const ABORT_THRESHOLD: u32 = Q * (1 << (3 * Z as u32));
/// Number of message-hash output elements that are decoded: ceil(DIMENSION / Z) = 6.
pub const MH_DECODED_FE: usize = DIMENSION.div_ceil(Z);

/// Length of the public parameter.
pub const PARAMETER_LEN: usize = 5;
/// Length of an encoded tweak.
pub const TWEAK_LEN_FE: usize = 2;
/// Length of the 32-byte message once encoded in base p.
pub const MSG_LEN_FE: usize = 9;
/// Length of the signing randomness rho.
pub const RAND_LEN_FE: usize = 7;
/// Length of a digest (chain values, tree nodes, leaf hash, message-hash output).
pub const HASH_LEN_FE: usize = 8;
/// Capacity of the leaf sponge (state elements `0..9` of the width-24 state).
pub const CAPACITY: usize = 9;
/// Rate of the leaf sponge: 24 - CAPACITY = 15 elements per absorbed block.
pub const SPONGE_RATE: usize = 24 - CAPACITY;
/// Length of the leaf-sponge input: parameter (5) + tweak (2) + 46 chain ends of 8 = 375.
pub const LEAF_SPONGE_INPUT_LEN: usize = PARAMETER_LEN + TWEAK_LEN_FE + DIMENSION * HASH_LEN_FE;
/// Permutations the leaf sponge makes: 375 / 15 = 25 (the input fills the blocks exactly).
pub const LEAF_SPONGE_PERMUTATIONS: usize = LEAF_SPONGE_INPUT_LEN.div_ceil(SPONGE_RATE);

/// The four 32-bit lengths hashed into the leaf sponge's capacity value (leanSig
/// `poseidon_safe_domain_separator`): `[PARAMETER_LEN, TWEAK_LEN_FE, DIMENSION, HASH_LEN_FE]`.
pub const SPONGE_DOMAIN_LENGTHS: [u32; 4] = [
    PARAMETER_LEN as u32,
    TWEAK_LEN_FE as u32,
    DIMENSION as u32,
    HASH_LEN_FE as u32,
];

/// Message length in bytes.
pub const MESSAGE_LEN: usize = 32;

/// Tweak separator (low byte of the tweak integer) for chain steps.
pub const TWEAK_SEPARATOR_CHAIN: u8 = 0x00;
/// Tweak separator for Merkle nodes and the leaf sponge.
pub const TWEAK_SEPARATOR_TREE: u8 = 0x01;
/// Tweak separator for the message hash.
pub const TWEAK_SEPARATOR_MESSAGE: u8 = 0x02;

/// Width of the permutation used for chain steps.
pub const CHAIN_WIDTH: usize = 16;
/// Width of the permutation used for Merkle nodes, the leaf sponge and the message hash.
pub const MERGE_WIDTH: usize = 24;

/// Attempts of the rho search before signing gives up (leanSig `TargetSumEncoding::MAX_TRIES`).
pub const MAX_SIGN_TRIES: u64 = 100_000;

/// PRF key length, bytes.
pub const PRF_KEY_LEN: usize = 32;
/// PRF domain separator, the first 16 bytes absorbed by every SHAKE128 call.
pub const PRF_DOMAIN_SEP: [u8; 16] = [
    0xae, 0xae, 0x22, 0xff, 0x00, 0x01, 0xfa, 0xff, 0x21, 0xaf, 0x12, 0x00, 0x01, 0x11, 0xff, 0x00,
];
/// PRF sub-separator for chain starts ("domain elements").
pub const PRF_SEP_CHAIN_START: u8 = 0x00;
/// PRF sub-separator for the signing randomness rho.
pub const PRF_SEP_RANDOMNESS: u8 = 0x01;
/// SHAKE128 output bytes consumed per field element (read big-endian as u128, reduced mod p).
pub const PRF_BYTES_PER_FE: usize = 16;

const _: () = assert!(ABORT_THRESHOLD == P - 1);
const _: () = assert!(LEAF_SPONGE_INPUT_LEN.is_multiple_of(SPONGE_RATE));
const _: () = assert!(HASH_LEN_FE + PARAMETER_LEN + TWEAK_LEN_FE <= CHAIN_WIDTH);
const _: () = assert!(PARAMETER_LEN + TWEAK_LEN_FE + 2 * HASH_LEN_FE <= MERGE_WIDTH);
const _: () = assert!(MSG_LEN_FE + PARAMETER_LEN + TWEAK_LEN_FE + RAND_LEN_FE <= MERGE_WIDTH);
