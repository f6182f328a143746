/* fw_store.c: provisioning record and the two-copy slot-metadata record.
 *
 * Why two copies: a record is rewritten (erase, then write) only in the copy that does NOT hold
 * the newest valid record, so a power cut at any byte of that rewrite leaves the other copy,
 * which still names a fully verified slot. At boot the valid copy (magic and CRC-32C) with the
 * higher sequence number wins; with none valid the board starts blank (no model).
 */
#include <string.h>

#include "fw.h"
#include "vp_proto.h"

#define META_MAGIC 0x534D5056u /* "VPMS" */
#define PROV_MAGIC 0x56505056u /* "VPPV" */
#define META_BODY offsetof(fw_meta_t, crc)

static int cur_copy = -1; /* copy holding the newest valid record, -1 if none */

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void fw_prov_read(fw_prov_t *p)
{
    const uint8_t *r = tgt_storage() + FW_PROV_OFF;
    memset(p, 0, sizeof *p);
    p->board_id = FW_DEFAULT_BOARD_ID;
#ifdef FW_KEY_INIT /* a compiled-in deployment key: -DFW_KEY_INIT='{0x..,...}' */
    {
        static const uint8_t k[] = FW_KEY_INIT;
        memcpy(p->key, k, sizeof k);
        p->key_len = sizeof k;
    }
#endif
    if (rd32(r) != PROV_MAGIC || r[6] > FW_MAX_KEY || vp_crc32c(0, r, 72) != rd32(r + 72)) return;
    p->board_id = (uint16_t)(r[4] | r[5] << 8);
    p->key_len = r[6];
    memcpy(p->key, r + 8, p->key_len);
    p->provisioned = 1;
}

static int meta_valid(const fw_meta_t *m)
{
    return m->magic == META_MAGIC && m->crc == vp_crc32c(0, (const uint8_t *)m, META_BODY) &&
           (m->active == FW_NO_SLOT || m->active < 2u) && m->size[0] <= FW_SLOT_SIZE &&
           m->size[1] <= FW_SLOT_SIZE;
}

void fw_meta_load(fw_meta_t *m)
{
    fw_meta_t c[2];
    int i;
    cur_copy = -1;
    for (i = 0; i < 2; i++) {
        memcpy(&c[i], tgt_storage() + FW_META_OFF(i), sizeof c[i]);
        if (meta_valid(&c[i]) && (cur_copy < 0 || c[i].seq > c[cur_copy].seq)) cur_copy = i;
    }
    if (cur_copy >= 0) {
        *m = c[cur_copy];
        return;
    }
    memset(m, 0, sizeof *m);
    m->magic = META_MAGIC;
    m->active = FW_NO_SLOT;
}

int fw_meta_save(fw_meta_t *m)
{
    int dst = cur_copy == 0 ? 1 : 0;
    m->magic = META_MAGIC;
    m->seq++;
    m->crc = vp_crc32c(0, (const uint8_t *)m, META_BODY);
    if (tgt_storage_erase(FW_META_OFF(dst), FW_SECTOR) != 0) return -1;
    if (tgt_storage_write(FW_META_OFF(dst), (const uint8_t *)m, sizeof *m) != 0) return -1;
    if (memcmp(tgt_storage() + FW_META_OFF(dst), m, sizeof *m) != 0) return -1;
    cur_copy = dst;
    return 0;
}

void fw_slot_sha(uint8_t slot, uint32_t size, uint8_t out[32])
{
    vp_sha256(tgt_storage() + FW_SLOT_OFF(slot), size, out);
}
