/* MESSAGE_ID= values of the journal lines an operator filters on, e.g.
 * `journalctl MESSAGE_ID=HL_MSG_KEY_PENDING's value`, each explained in
 * systemd/hitless.catalog (installed to /usr/lib/systemd/catalog/, shown
 * by `journalctl -x`). Never change a landed value: it is an interface. */
#pragma once

#define HL_MSG_KEY_PENDING "4b4d7af380a147f99ce5c85c9ceb1fd2"          /* an unknown key waits for accept */
#define HL_MSG_KEY_IMPERSONATION "53742b2d10034167a706144c0fcffd5e"    /* a key claims another node */
#define HL_MSG_UPGRADE_NODE_FAILED "82cc20eb7ebb4e68b6e17ccbd927f835"  /* a node failed a step */
#define HL_MSG_UPGRADE_PAUSED "c2aa7c7ad2a044018c280f1cbfd4275f"       /* the upgrade paused (why) */
#define HL_MSG_UPGRADE_COMPLETE "3c521572bbfb40d89bd6c7d5cd28fa22"     /* every node done */
