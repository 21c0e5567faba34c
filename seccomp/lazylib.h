/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libcrypto, libssl and libldns, loaded by zt-exec only for a grant that
 * uses them.
 *
 * Every launch paid for mapping and relocating libssl and libldns at exec
 * (measured: 1.0 ms of CPU of a process's start), and for libcrypto's
 * 3 000-odd symbol relocations (BIND_NOW) another 0.6-1.0 ms, while only
 * tunnel rules (libssl, and libcrypto's keys and certificates) and host
 * rules (libldns) use them.  zt-exec's SHA-256 comes from libcrypto's
 * static archive (configure's LIBCRYPTO_STATIC: its SHA256_* functions and
 * CPU dispatch, nothing else), so libcrypto.so is not loaded for digests.
 * Built with ZT_LAZY_LIBS (zt-exec only), tunnel.c and dnsmsg.c call each
 * such function through a pointer from dlsym, typed from the library's own
 * declaration; without it (unit tests, fuzzers) they call the libraries
 * directly.
 */
#ifndef ZTX_LAZYLIB_H
#define ZTX_LAZYLIB_H

#include <stddef.h>

/* X(library, function) for every function of libcrypto (LAZY_CRYPTO),
 * libssl (LAZY_SSL) and libldns (LAZY_LDNS) that zt-exec calls. */
#define LAZYLIB_FUNCTIONS(X) \
	X(LAZY_CRYPTO, OPENSSL_init_crypto) X(LAZY_CRYPTO, CRYPTO_free) \
	X(LAZY_CRYPTO, ERR_clear_error) X(LAZY_CRYPTO, ERR_error_string_n) \
	X(LAZY_CRYPTO, ERR_get_error) X(LAZY_CRYPTO, EVP_PKEY_Q_keygen) \
	X(LAZY_CRYPTO, EVP_PKEY_free) X(LAZY_CRYPTO, EVP_sha256) \
	X(LAZY_CRYPTO, X509_REQ_free) X(LAZY_CRYPTO, X509_REQ_new) \
	X(LAZY_CRYPTO, X509_REQ_get_X509_PUBKEY) \
	X(LAZY_CRYPTO, X509_PUBKEY_set0_param) X(LAZY_CRYPTO, OBJ_nid2obj) \
	X(LAZY_CRYPTO, EVP_PKEY_get_octet_string_param) \
	X(LAZY_CRYPTO, CRYPTO_malloc) \
	X(LAZY_CRYPTO, X509_REQ_set_version) X(LAZY_CRYPTO, X509_REQ_sign) \
	X(LAZY_CRYPTO, X509_check_private_key) X(LAZY_CRYPTO, X509_free) \
	X(LAZY_CRYPTO, X509_verify_cert_error_string) \
	X(LAZY_CRYPTO, d2i_X509) X(LAZY_CRYPTO, i2d_X509_REQ) \
	X(LAZY_CRYPTO, EVP_PKEY_CTX_new) X(LAZY_CRYPTO, EVP_PKEY_CTX_free) \
	X(LAZY_CRYPTO, EVP_PKEY_derive_init) \
	X(LAZY_CRYPTO, EVP_PKEY_derive_set_peer) \
	X(LAZY_CRYPTO, EVP_PKEY_derive) X(LAZY_CRYPTO, EVP_KDF_fetch) \
	X(LAZY_CRYPTO, EVP_KDF_free) X(LAZY_CRYPTO, EVP_MAC_fetch) \
	X(LAZY_CRYPTO, EVP_MAC_free) X(LAZY_CRYPTO, BIO_new) \
	X(LAZY_CRYPTO, BIO_s_mem) X(LAZY_CRYPTO, BIO_free) \
	X(LAZY_CRYPTO, BIO_ctrl) X(LAZY_SSL, SSL_set_bio) \
	X(LAZY_SSL, SSL_get_wbio) \
	X(LAZY_SSL, SSL_CTX_ctrl) X(LAZY_SSL, SSL_CTX_free) \
	X(LAZY_SSL, SSL_CTX_load_verify_file) X(LAZY_SSL, SSL_CTX_new) \
	X(LAZY_SSL, SSL_CTX_set_verify) X(LAZY_SSL, SSL_CTX_up_ref) \
	X(LAZY_SSL, SSL_CTX_use_PrivateKey) \
	X(LAZY_SSL, SSL_CTX_use_certificate) X(LAZY_SSL, SSL_connect) \
	X(LAZY_SSL, SSL_ctrl) X(LAZY_SSL, SSL_free) \
	X(LAZY_SSL, SSL_get_error) X(LAZY_SSL, SSL_get_verify_result) \
	X(LAZY_SSL, SSL_get_version) X(LAZY_SSL, SSL_new) \
	X(LAZY_SSL, SSL_pending) X(LAZY_SSL, SSL_read) \
	X(LAZY_SSL, SSL_set1_host) X(LAZY_SSL, SSL_set_fd) \
	X(LAZY_SSL, SSL_shutdown) X(LAZY_SSL, SSL_write) \
	X(LAZY_SSL, TLS_client_method) \
	X(LAZY_LDNS, ldns_dname_compare) X(LAZY_LDNS, ldns_dname_new_frm_str) \
	X(LAZY_LDNS, ldns_pkt2wire) X(LAZY_LDNS, ldns_pkt_additional) \
	X(LAZY_LDNS, ldns_pkt_answer) X(LAZY_LDNS, ldns_pkt_edns) \
	X(LAZY_LDNS, ldns_pkt_free) X(LAZY_LDNS, ldns_pkt_get_opcode) \
	X(LAZY_LDNS, ldns_pkt_get_rcode) X(LAZY_LDNS, ldns_pkt_new) \
	X(LAZY_LDNS, ldns_pkt_push_rr) X(LAZY_LDNS, ldns_pkt_qdcount) \
	X(LAZY_LDNS, ldns_pkt_question) \
	X(LAZY_LDNS, ldns_pkt_set_edns_udp_size) \
	X(LAZY_LDNS, ldns_pkt_set_id) X(LAZY_LDNS, ldns_pkt_set_opcode) \
	X(LAZY_LDNS, ldns_pkt_set_qr) X(LAZY_LDNS, ldns_pkt_set_ra) \
	X(LAZY_LDNS, ldns_pkt_set_rcode) X(LAZY_LDNS, ldns_pkt_set_rd) \
	X(LAZY_LDNS, ldns_rdf2str) X(LAZY_LDNS, ldns_rdf_data) \
	X(LAZY_LDNS, ldns_rdf_deep_free) X(LAZY_LDNS, ldns_rdf_get_type) \
	X(LAZY_LDNS, ldns_rdf_new_frm_data) X(LAZY_LDNS, ldns_rdf_size) \
	X(LAZY_LDNS, ldns_rr_free) X(LAZY_LDNS, ldns_rr_get_class) \
	X(LAZY_LDNS, ldns_rr_get_type) X(LAZY_LDNS, ldns_rr_list_rr) \
	X(LAZY_LDNS, ldns_rr_list_rr_count) X(LAZY_LDNS, ldns_rr_new) \
	X(LAZY_LDNS, ldns_rr_owner) X(LAZY_LDNS, ldns_rr_push_rdf) \
	X(LAZY_LDNS, ldns_rr_rd_count) X(LAZY_LDNS, ldns_rr_rdf) \
	X(LAZY_LDNS, ldns_rr_set_class) X(LAZY_LDNS, ldns_rr_set_owner) \
	X(LAZY_LDNS, ldns_rr_set_question) X(LAZY_LDNS, ldns_rr_set_ttl) \
	X(LAZY_LDNS, ldns_rr_set_type) X(LAZY_LDNS, ldns_rr_ttl) \
	X(LAZY_LDNS, ldns_wire2pkt)

enum lazylib_id {
#define LAZYLIB_ID(lib, name) LAZY_ID_##name,
	LAZYLIB_FUNCTIONS(LAZYLIB_ID)
#undef LAZYLIB_ID
	LAZY_ID_COUNT
};

/*
 * Load the libraries and resolve every function, once: 0, or -1 with why
 * in ERROR (SIZE bytes).  zt-exec calls it at launch for a profile with
 * tunnel or host rules, so that a missing library refuses the launch.
 */
int lazylib_load(char *error, size_t size);

/* libcrypto alone, as lazylib_load: what a key pair and its request need,
 * ready sooner (the others are loaded on their first use, or by
 * lazylib_load). */
int lazylib_load_crypto(char *error, size_t size);

/* Function ID, loaded on first use.  A library that cannot be loaded then
 * ends zt-exec (abort: its agent dies with it, EXITKILL). */
void *lazylib_function(enum lazylib_id id);

#ifdef ZT_LAZY_LIBS
/* A call NAME(...) goes through the pointer; NAME inside its own
 * expansion is the library's declaration (no recursion). */
#define LAZYLIB_CALL(name) ((__typeof__(&name))lazylib_function(LAZY_ID_##name))
#define OPENSSL_init_crypto(...) LAZYLIB_CALL(OPENSSL_init_crypto)(__VA_ARGS__)
#define CRYPTO_free(...) LAZYLIB_CALL(CRYPTO_free)(__VA_ARGS__)
#define ERR_clear_error(...) LAZYLIB_CALL(ERR_clear_error)(__VA_ARGS__)
#define ERR_error_string_n(...) LAZYLIB_CALL(ERR_error_string_n)(__VA_ARGS__)
#define ERR_get_error(...) LAZYLIB_CALL(ERR_get_error)(__VA_ARGS__)
#define EVP_PKEY_Q_keygen(...) LAZYLIB_CALL(EVP_PKEY_Q_keygen)(__VA_ARGS__)
#define EVP_PKEY_free(...) LAZYLIB_CALL(EVP_PKEY_free)(__VA_ARGS__)
#define EVP_sha256(...) LAZYLIB_CALL(EVP_sha256)(__VA_ARGS__)
#define X509_REQ_free(...) LAZYLIB_CALL(X509_REQ_free)(__VA_ARGS__)
#define X509_REQ_new(...) LAZYLIB_CALL(X509_REQ_new)(__VA_ARGS__)
#define X509_REQ_get_X509_PUBKEY(...) \
	LAZYLIB_CALL(X509_REQ_get_X509_PUBKEY)(__VA_ARGS__)
#define X509_PUBKEY_set0_param(...) \
	LAZYLIB_CALL(X509_PUBKEY_set0_param)(__VA_ARGS__)
#define OBJ_nid2obj(...) LAZYLIB_CALL(OBJ_nid2obj)(__VA_ARGS__)
#define EVP_PKEY_get_octet_string_param(...) \
	LAZYLIB_CALL(EVP_PKEY_get_octet_string_param)(__VA_ARGS__)
#define CRYPTO_malloc(...) LAZYLIB_CALL(CRYPTO_malloc)(__VA_ARGS__)
#define X509_REQ_set_version(...) \
	LAZYLIB_CALL(X509_REQ_set_version)(__VA_ARGS__)
#define X509_REQ_sign(...) LAZYLIB_CALL(X509_REQ_sign)(__VA_ARGS__)
#define X509_check_private_key(...) \
	LAZYLIB_CALL(X509_check_private_key)(__VA_ARGS__)
#define X509_free(...) LAZYLIB_CALL(X509_free)(__VA_ARGS__)
#define X509_verify_cert_error_string(...) \
	LAZYLIB_CALL(X509_verify_cert_error_string)(__VA_ARGS__)
#define d2i_X509(...) LAZYLIB_CALL(d2i_X509)(__VA_ARGS__)
#define i2d_X509_REQ(...) LAZYLIB_CALL(i2d_X509_REQ)(__VA_ARGS__)
#define EVP_PKEY_CTX_new(...) LAZYLIB_CALL(EVP_PKEY_CTX_new)(__VA_ARGS__)
#define EVP_PKEY_CTX_free(...) LAZYLIB_CALL(EVP_PKEY_CTX_free)(__VA_ARGS__)
#define EVP_PKEY_derive_init(...) \
	LAZYLIB_CALL(EVP_PKEY_derive_init)(__VA_ARGS__)
#define EVP_PKEY_derive_set_peer(...) \
	LAZYLIB_CALL(EVP_PKEY_derive_set_peer)(__VA_ARGS__)
#define EVP_PKEY_derive(...) LAZYLIB_CALL(EVP_PKEY_derive)(__VA_ARGS__)
#define EVP_KDF_fetch(...) LAZYLIB_CALL(EVP_KDF_fetch)(__VA_ARGS__)
#define EVP_KDF_free(...) LAZYLIB_CALL(EVP_KDF_free)(__VA_ARGS__)
#define EVP_MAC_fetch(...) LAZYLIB_CALL(EVP_MAC_fetch)(__VA_ARGS__)
#define EVP_MAC_free(...) LAZYLIB_CALL(EVP_MAC_free)(__VA_ARGS__)
#define BIO_new(...) LAZYLIB_CALL(BIO_new)(__VA_ARGS__)
#define BIO_s_mem(...) LAZYLIB_CALL(BIO_s_mem)(__VA_ARGS__)
#define BIO_free(...) LAZYLIB_CALL(BIO_free)(__VA_ARGS__)
#define BIO_ctrl(...) LAZYLIB_CALL(BIO_ctrl)(__VA_ARGS__)
#define SSL_set_bio(...) LAZYLIB_CALL(SSL_set_bio)(__VA_ARGS__)
#define SSL_get_wbio(...) LAZYLIB_CALL(SSL_get_wbio)(__VA_ARGS__)
#define SSL_CTX_ctrl(...) LAZYLIB_CALL(SSL_CTX_ctrl)(__VA_ARGS__)
#define SSL_CTX_free(...) LAZYLIB_CALL(SSL_CTX_free)(__VA_ARGS__)
#define SSL_CTX_load_verify_file(...) \
	LAZYLIB_CALL(SSL_CTX_load_verify_file)(__VA_ARGS__)
#define SSL_CTX_new(...) LAZYLIB_CALL(SSL_CTX_new)(__VA_ARGS__)
#define SSL_CTX_set_verify(...) LAZYLIB_CALL(SSL_CTX_set_verify)(__VA_ARGS__)
#define SSL_CTX_up_ref(...) LAZYLIB_CALL(SSL_CTX_up_ref)(__VA_ARGS__)
#define SSL_CTX_use_PrivateKey(...) \
	LAZYLIB_CALL(SSL_CTX_use_PrivateKey)(__VA_ARGS__)
#define SSL_CTX_use_certificate(...) \
	LAZYLIB_CALL(SSL_CTX_use_certificate)(__VA_ARGS__)
#define SSL_connect(...) LAZYLIB_CALL(SSL_connect)(__VA_ARGS__)
#define SSL_ctrl(...) LAZYLIB_CALL(SSL_ctrl)(__VA_ARGS__)
#define SSL_free(...) LAZYLIB_CALL(SSL_free)(__VA_ARGS__)
#define SSL_get_error(...) LAZYLIB_CALL(SSL_get_error)(__VA_ARGS__)
#define SSL_get_verify_result(...) \
	LAZYLIB_CALL(SSL_get_verify_result)(__VA_ARGS__)
#define SSL_get_version(...) LAZYLIB_CALL(SSL_get_version)(__VA_ARGS__)
#define SSL_new(...) LAZYLIB_CALL(SSL_new)(__VA_ARGS__)
#define SSL_pending(...) LAZYLIB_CALL(SSL_pending)(__VA_ARGS__)
#define SSL_read(...) LAZYLIB_CALL(SSL_read)(__VA_ARGS__)
#define SSL_set1_host(...) LAZYLIB_CALL(SSL_set1_host)(__VA_ARGS__)
#define SSL_set_fd(...) LAZYLIB_CALL(SSL_set_fd)(__VA_ARGS__)
#define SSL_shutdown(...) LAZYLIB_CALL(SSL_shutdown)(__VA_ARGS__)
#define SSL_write(...) LAZYLIB_CALL(SSL_write)(__VA_ARGS__)
#define TLS_client_method(...) LAZYLIB_CALL(TLS_client_method)(__VA_ARGS__)
#define ldns_dname_compare(...) LAZYLIB_CALL(ldns_dname_compare)(__VA_ARGS__)
#define ldns_dname_new_frm_str(...) \
	LAZYLIB_CALL(ldns_dname_new_frm_str)(__VA_ARGS__)
#define ldns_pkt2wire(...) LAZYLIB_CALL(ldns_pkt2wire)(__VA_ARGS__)
#define ldns_pkt_additional(...) \
	LAZYLIB_CALL(ldns_pkt_additional)(__VA_ARGS__)
#define ldns_pkt_answer(...) LAZYLIB_CALL(ldns_pkt_answer)(__VA_ARGS__)
#define ldns_pkt_edns(...) LAZYLIB_CALL(ldns_pkt_edns)(__VA_ARGS__)
#define ldns_pkt_free(...) LAZYLIB_CALL(ldns_pkt_free)(__VA_ARGS__)
#define ldns_pkt_get_opcode(...) \
	LAZYLIB_CALL(ldns_pkt_get_opcode)(__VA_ARGS__)
#define ldns_pkt_get_rcode(...) LAZYLIB_CALL(ldns_pkt_get_rcode)(__VA_ARGS__)
#define ldns_pkt_new(...) LAZYLIB_CALL(ldns_pkt_new)(__VA_ARGS__)
#define ldns_pkt_push_rr(...) LAZYLIB_CALL(ldns_pkt_push_rr)(__VA_ARGS__)
#define ldns_pkt_qdcount(...) LAZYLIB_CALL(ldns_pkt_qdcount)(__VA_ARGS__)
#define ldns_pkt_question(...) LAZYLIB_CALL(ldns_pkt_question)(__VA_ARGS__)
#define ldns_pkt_set_edns_udp_size(...) \
	LAZYLIB_CALL(ldns_pkt_set_edns_udp_size)(__VA_ARGS__)
#define ldns_pkt_set_id(...) LAZYLIB_CALL(ldns_pkt_set_id)(__VA_ARGS__)
#define ldns_pkt_set_opcode(...) \
	LAZYLIB_CALL(ldns_pkt_set_opcode)(__VA_ARGS__)
#define ldns_pkt_set_qr(...) LAZYLIB_CALL(ldns_pkt_set_qr)(__VA_ARGS__)
#define ldns_pkt_set_ra(...) LAZYLIB_CALL(ldns_pkt_set_ra)(__VA_ARGS__)
#define ldns_pkt_set_rcode(...) LAZYLIB_CALL(ldns_pkt_set_rcode)(__VA_ARGS__)
#define ldns_pkt_set_rd(...) LAZYLIB_CALL(ldns_pkt_set_rd)(__VA_ARGS__)
#define ldns_rdf2str(...) LAZYLIB_CALL(ldns_rdf2str)(__VA_ARGS__)
#define ldns_rdf_data(...) LAZYLIB_CALL(ldns_rdf_data)(__VA_ARGS__)
#define ldns_rdf_deep_free(...) LAZYLIB_CALL(ldns_rdf_deep_free)(__VA_ARGS__)
#define ldns_rdf_get_type(...) LAZYLIB_CALL(ldns_rdf_get_type)(__VA_ARGS__)
#define ldns_rdf_new_frm_data(...) \
	LAZYLIB_CALL(ldns_rdf_new_frm_data)(__VA_ARGS__)
#define ldns_rdf_size(...) LAZYLIB_CALL(ldns_rdf_size)(__VA_ARGS__)
#define ldns_rr_free(...) LAZYLIB_CALL(ldns_rr_free)(__VA_ARGS__)
#define ldns_rr_get_class(...) LAZYLIB_CALL(ldns_rr_get_class)(__VA_ARGS__)
#define ldns_rr_get_type(...) LAZYLIB_CALL(ldns_rr_get_type)(__VA_ARGS__)
#define ldns_rr_list_rr(...) LAZYLIB_CALL(ldns_rr_list_rr)(__VA_ARGS__)
#define ldns_rr_list_rr_count(...) \
	LAZYLIB_CALL(ldns_rr_list_rr_count)(__VA_ARGS__)
#define ldns_rr_new(...) LAZYLIB_CALL(ldns_rr_new)(__VA_ARGS__)
#define ldns_rr_owner(...) LAZYLIB_CALL(ldns_rr_owner)(__VA_ARGS__)
#define ldns_rr_push_rdf(...) LAZYLIB_CALL(ldns_rr_push_rdf)(__VA_ARGS__)
#define ldns_rr_rd_count(...) LAZYLIB_CALL(ldns_rr_rd_count)(__VA_ARGS__)
#define ldns_rr_rdf(...) LAZYLIB_CALL(ldns_rr_rdf)(__VA_ARGS__)
#define ldns_rr_set_class(...) LAZYLIB_CALL(ldns_rr_set_class)(__VA_ARGS__)
#define ldns_rr_set_owner(...) LAZYLIB_CALL(ldns_rr_set_owner)(__VA_ARGS__)
#define ldns_rr_set_question(...) \
	LAZYLIB_CALL(ldns_rr_set_question)(__VA_ARGS__)
#define ldns_rr_set_ttl(...) LAZYLIB_CALL(ldns_rr_set_ttl)(__VA_ARGS__)
#define ldns_rr_set_type(...) LAZYLIB_CALL(ldns_rr_set_type)(__VA_ARGS__)
#define ldns_rr_ttl(...) LAZYLIB_CALL(ldns_rr_ttl)(__VA_ARGS__)
#define ldns_wire2pkt(...) LAZYLIB_CALL(ldns_wire2pkt)(__VA_ARGS__)
#endif

#endif
