// Ed25519 verification for the ledger: single and batch, one acceptance rule (man
// ledger-settle, RULES, "Signatures").
//
// The rule is cofactored verification (as ZIP-215's equation) with libsodium 1.0.18's
// encoding checks: S canonical (S < L); A and R canonical (y < p), not one of the
// small-order encodings libsodium refuses, and decodable; and
//   [8]([S]B − R − [k]A) = 0,   k = SHA-512(R ‖ A ‖ M) mod L.
// An honest signature satisfies the cofactorless equation [S]B = R + [k]A, so libsodium
// and this rule accept it alike; the only signatures accepted here and refused by
// crypto_sign_verify_detached are those where [S]B − R − [k]A is a nonzero point of
// small order (for example R + T with T of order 8, S unchanged).
//
// A batch checks [8]([Σ z_i S_i]B − Σ z_i R_i − Σ_A (Σ_{i: A_i = A} z_i k_i) A) = 0 with
// fresh random 128-bit z_i (Bernstein et al., "High-speed high-security signatures",
// §5) by one multi-scalar multiplication (Pippenger's bucket method); the cofactor makes
// the batch equation hold exactly when every single one does, but for a 2^-128 chance.
// A failed batch is re-checked one signature at a time, so the verdicts are those of
// verify().
//
// Field arithmetic mod 2^255 − 19 in radix 2^51, extended twisted Edwards coordinates
// (Hisil et al. 2008). Variable time: verification handles public data only.
#pragma once
#include <cstddef>
#include <cstdint>

namespace pw::ledger::ed25519 {

// Cofactored verification of one signature (64 bytes: R ‖ S) over msg under pk.
bool verify(const uint8_t* sig, const uint8_t* msg, size_t len, const uint8_t* pk);

struct SignedMessage {
  const uint8_t* sig;  // 64 bytes
  const uint8_t* msg;
  size_t len;
  const uint8_t* pk;  // 32 bytes
};

// Verifies n signatures together; ok[i] (1 or 0) is verify()'s verdict on item i (but for a 2^-128
// chance). Returns whether all are valid. Decoded public keys are cached per thread.
bool verify_batch(const SignedMessage* items, size_t n, uint8_t* ok);

// ---- internals, for the unit tests -------------------------------------------------
namespace internal {

// A field element: five 51-bit limbs (a little more between operations).
struct Fe {
  uint64_t v[5];
};
Fe fe_from_bytes(const uint8_t s[32]);  // the top bit is ignored
void fe_to_bytes(uint8_t s[32], const Fe& a);  // canonical (fully reduced)
Fe fe_mul(const Fe& a, const Fe& b);
Fe fe_sq(const Fe& a);
Fe fe_add(const Fe& a, const Fe& b);
Fe fe_sub(const Fe& a, const Fe& b);
Fe fe_invert(const Fe& a);  // a^(p-2); 0 for 0
bool fe_equal(const Fe& a, const Fe& b);
const Fe& fe_sqrtm1();  // a square root of -1

// A point in extended coordinates: x = X/Z, y = Y/Z, xy = T/Z.
struct Point {
  Fe X, Y, Z, T;
};
// Decodes a canonical encoding (y < p; x = 0 with the sign bit set is refused).
bool point_decode(Point& p, const uint8_t s[32]);
void point_encode(uint8_t s[32], const Point& p);
Point point_add(const Point& p, const Point& q);
bool point_is_identity(const Point& p);
Point point_mul8(const Point& p);
const Point& base_point();
// [s]P for a 256-bit little-endian scalar (through the multi-scalar multiplication).
Point scalar_mul(const uint8_t s[32], const Point& p);
// libsodium 1.0.18's ge25519_has_small_order: the encodings it refuses (sign bit ignored).
bool has_small_order_encoding(const uint8_t s[32]);

}  // namespace internal
}  // namespace pw::ledger::ed25519
