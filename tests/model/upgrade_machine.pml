/* A Promela model of the coordinator's upgrade machine
 * (coordinator/upgrade/upgrade_machine.c, quorum.c, planner.c) and of the
 * agent's command journal, with the faults the README says the protocol
 * survives. tests/model/README.md maps every variable and inline here to
 * the code; change both together.
 *
 * Fleet: N = 5 nodes; group G3 = {0,1,2} (budget 1), group G5 = {0..4}
 * (budget 2): they overlap in nodes 0..2. Phase 0 = {0,1,2} (batch mode,
 * batch 2, max_failures 0, on_failure pause); phase 1 = {3,4} (rolling,
 * batch 2, max_failures 0, on_failure rollback_node). Steps per node:
 * pending -> installing -> restarting -> verifying -> done; failed ->
 * rolling_back -> rolled_back; skipped. (No drain or repoint step: they
 * are commands like install, with the same protocol.)
 *
 * Switches (spin -D...):
 *   NOFAULTS          no faults and no admin: the liveness run
 *   NO_BUDGET_CHECK   mutation: starts ignore the quorum budget; the
 *                     budget assertion must then fail
 *   MAXFAULTS=k       faults in one run (default 3)
 *   MAXADMIN=k        admin requests in one run (default 2)
 */

#define N 5
#define NG 2
#define NP 2
#define MAXID 31

#ifndef MAXFAULTS
#define MAXFAULTS 3
#endif
#ifndef MAXADMIN
#define MAXADMIN 2
#endif
#ifdef NOFAULTS
#undef MAXFAULTS
#define MAXFAULTS 0
#undef MAXADMIN
#define MAXADMIN 0
#endif

#ifdef NOFAULTS
#define TICK_GUARD empty(a2c)
#else
#define TICK_GUARD true
#endif

/* health gate, in ticks: min_healthy_time and healthy_deadline */
#define MINH 1
#define DL 2

/* upgrade_step_t */
#define PENDING      0
#define INSTALLING   1
#define RESTARTING   2
#define VERIFYING    3
#define DONE         4
#define FAILED       5
#define ROLLING_BACK 6
#define ROLLED_BACK  7
#define SKIPPED      8

/* upgrade_cmd_t */
#define C_NONE     0
#define C_INSTALL  1
#define C_RESTART  2
#define C_ROLLBACK 3

/* a journal entry's state (agent/journal.c), and the replies */
#define J_NONE    0
#define J_RUNNING 1
#define J_OK      2
#define J_FAIL    3
#define J_INTR    4   /* interrupted: the agent died while running it */
#define R_UNKNOWN 5   /* reply to a query: id never received */

#define IN_STEP(s) ((s) != PENDING && (s) != DONE && (s) != ROLLED_BACK && (s) != SKIPPED)
#define IN_FLIGHT(s) (IN_STEP(s) && (s) != FAILED)
#define IN_G(g, i) ((g) != 0 || (i) < 3)
#define BUDGET(g) ((g) == 0 -> 1 : 2)
#define PHASE_OF(i) ((i) < 3 -> 0 : 1)
#define PH_FIRST(p) ((p) == 0 -> 0 : 3)
#define PH_LAST(p) ((p) == 0 -> 2 : 4)
#define PH_BATCH 2
#define PH_MAXF 0
#define PH_BATCH_MODE(p) ((p) == 0)
#define PH_ROLLBACK_NODE(p) ((p) == 1)

/* ---- the coordinator's committed state (upgrade_machine_export) ---- */
byte step[N];
byte cmd[N];
byte cid[N];              /* in-flight command id, 0 none */
bool rb_pending[N];
bool halted[N];
bool counted[N];          /* failure_counted */
bool reach[N];            /* what the machine was told */
bool healthy[N];
byte hs_age[N];           /* ticks healthy since (healthy_since), 0 = not healthy */
byte v_age[N];            /* ticks since verifying began (deadline = begin + DL) */
byte phase;
bool paused, aborted, complete;
byte failures[NP];
byte forgiven[NP];
bool tripped[NP];
byte next_id = 1;

/* ---- each agent: its journal (durable) and the node's truth ---- */
int j_seen[N];            /* bit k: id k journaled (executed at most once) */
byte j_id[N];             /* the last id journaled */
byte j_state[N];
byte j_cmd[N];
bool a_up[N];             /* agent process running */
bool ver[N];              /* ghost: new package installed */
bool t_healthy[N];        /* ghost: the node's real health */

/* ---- ghosts for the properties ---- */
bool taken[N];            /* put in a step by the coordinator while up */
int executed[N];          /* bit k: id k executed on the node */
byte g_run[N];            /* ticks the reported health stayed healthy and reachable */
byte g_vt[N];             /* ticks since the node entered verifying */
byte faults, admins;
bool coord_up = true;

/* coordinator -> agent: commands and queries; agent -> coordinator: results */
chan c2a[N] = [2] of { byte, byte };   /* cmd, id */
chan q2a[N] = [1] of { byte };         /* id asked about */
/* an agent blocks while the coordinator's queue is full (ZMQ high-water
 * mark): only the faults below lose messages */
chan a2c = [N] of { byte, byte, byte };/* node, id, J_OK/J_FAIL/J_INTR/R_UNKNOWN */

/* the coordinator's work space: assigned before every use inside one
 * atomic event, so hidden (not part of the state: no spurious states) */
hidden byte i, id, res, g, k, cn, last, rolling, i2, inflight;
hidden byte ok, settled;

/* ---- quorum.c ---- */
/* s_quorum_status() != UP/DONE */
#define DOWN(i) (!reach[i] || IN_STEP(step[i]) || !healthy[i])

/* quorum_blocking_group() == -ENOENT for a single node, as
 * quorum_budget_allows(&node, 1): every group of an up node stays within
 * budget with it down too. */
inline budget_allows(i, ok) {
	ok = true;
#ifndef NO_BUDGET_CHECK
	if
	:: DOWN(i) -> skip
	:: else ->
		g = 0;
		do
		:: g < NG ->
			if
			:: IN_G(g, i) ->
				cn = 0; k = 0;
				do
				:: k < N -> if :: IN_G(g, k) && DOWN(k) -> cn++ :: else fi; k++
				:: else -> break
				od;
				if :: cn + 1 > BUDGET(g) -> ok = false :: else fi
			:: else
			fi;
			g++
		:: else -> break
		od
	fi
#endif
}

/* ---- the properties ---- */
/* never more members of a group down by the coordinator's doing than its budget */
inline check_budget() {
	g = 0;
	do
	:: g < NG ->
		cn = 0; k = 0;
		do
		:: k < N -> if :: IN_G(g, k) && taken[k] -> cn++ :: else fi; k++
		:: else -> break
		od;
		assert(cn <= BUDGET(g));
		g++
	:: else -> break
	od
}

/* s_send(): the id is committed with the state before it leaves */
inline send(i, s, c) {
	assert(next_id < MAXID);
	step[i] = s; cmd[i] = c; cid[i] = next_id; next_id++;
	if :: nfull(c2a[i]) -> c2a[i]!c, cid[i] :: full(c2a[i]) fi   /* a full queue loses it */
}

/* s_fail() */
inline fail(i) {
	step[i] = FAILED; cmd[i] = C_NONE; cid[i] = 0; hs_age[i] = 0; v_age[i] = 0;
	if :: !counted[i] -> counted[i] = true; failures[PHASE_OF(i)]++ :: else fi;
	if :: PH_ROLLBACK_NODE(PHASE_OF(i)) -> rb_pending[i] = true :: else fi
}

/* s_next_step() after a command succeeded (or the gate passed) */
inline next_step(i) {
	cmd[i] = C_NONE; cid[i] = 0;
	if
	:: rb_pending[i] -> skip
	:: !rb_pending[i] && aborted && step[i] != VERIFYING -> halted[i] = true
	:: else ->
		if
		:: step[i] == PENDING -> send(i, INSTALLING, C_INSTALL)
		:: step[i] == INSTALLING -> send(i, RESTARTING, C_RESTART)
		:: step[i] == RESTARTING ->
			step[i] = VERIFYING; v_age[i] = 0; g_vt[i] = 0;
			hs_age[i] = (healthy[i] && reach[i] -> 1 : 0)
		:: step[i] == VERIFYING ->
			/* the health gate, judged from the reports alone */
			assert(g_run[i] >= MINH && g_vt[i] >= MINH);
			assert(ver[i]);
			hs_age[i] = 0; v_age[i] = 0;
			step[i] = DONE; taken[i] = false
		fi
	fi
}

/* s_check_gates(): hs_age - 1 ticks of health so far, started v_age -
 * (hs_age - 1) ticks after verifying began */
inline check_gates() {
	k = 0;
	do
	:: k < N ->
		if
		:: step[k] == VERIFYING && !halted[k] && !rb_pending[k] ->
			if
			:: hs_age[k] > 0 && (v_age[k] - (hs_age[k] - 1)) + MINH <= DL && hs_age[k] - 1 >= MINH ->
				next_step(k)
			:: else ->
				if :: v_age[k] >= DL -> fail(k) :: else fi
			fi
		:: else
		fi;
		k++
	:: else -> break
	od
}

/* s_phase_failures() > max_failures: s_check_failure_budget() */
inline check_failure_budget() {
	if
	:: !complete && phase < NP && !tripped[phase] ->
		cn = failures[phase] - forgiven[phase]; k = PH_FIRST(phase);
		do
		:: k <= PH_LAST(phase) -> if :: step[k] == PENDING && !reach[k] -> cn++ :: else fi; k++
		:: else -> break
		od;
		if
		:: cn > PH_MAXF ->
			tripped[phase] = true;
			if
			:: PH_ROLLBACK_NODE(phase) ->
				k = PH_FIRST(phase);
				do
				:: k <= PH_LAST(phase) -> if :: step[k] == FAILED -> rb_pending[k] = true :: else fi; k++
				:: else -> break
				od
			:: else
			fi;
			paused = true
		:: else
		fi
	:: else
	fi
}

/* s_start_rollbacks(): the last phase first, batch_size at once, under budget */
inline start_rollbacks() {
	last = 255; k = 0;
	do
	:: k < N -> if :: (rb_pending[k] || step[k] == ROLLING_BACK) && (last == 255 || PHASE_OF(k) > last) -> last = PHASE_OF(k) :: else fi; k++
	:: else -> break
	od;
	if
	:: last != 255 ->
		rolling = 0; k = PH_FIRST(last);
		do
		:: k <= PH_LAST(last) -> if :: step[k] == ROLLING_BACK -> rolling++ :: else fi; k++
		:: else -> break
		od;
		i2 = PH_FIRST(last);
		do
		:: i2 <= PH_LAST(last) ->
			if
			:: rb_pending[i2] && cmd[i2] == C_NONE && rolling < PH_BATCH && reach[i2] ->
				budget_allows(i2, ok);
				if
				:: ok ->
					if :: !DOWN(i2) -> taken[i2] = true :: else fi;
					rb_pending[i2] = false; halted[i2] = false; hs_age[i2] = 0; v_age[i2] = 0;
					send(i2, ROLLING_BACK, C_ROLLBACK);
					rolling++
				:: else
				fi
			:: else
			fi;
			i2++
		:: else -> break
		od
	:: else
	fi
}

/* s_start_upgrades(): settle the phase or start what the planner allows */
inline start_upgrades() {
	do
	:: phase >= NP ->
		rolling = 0; k = 0;
		do
		:: k < N -> if :: rb_pending[k] || step[k] == ROLLING_BACK -> rolling++ :: else fi; k++
		:: else -> break
		od;
		if :: rolling == 0 -> complete = true :: else fi;
		break
	:: else ->
		settled = true; inflight = 0; k = PH_FIRST(phase);
		do
		:: k <= PH_LAST(phase) ->
			if :: IN_FLIGHT(step[k]) -> inflight++ :: else fi;
			if
			:: step[k] == DONE || step[k] == SKIPPED || step[k] == ROLLED_BACK -> skip
			:: step[k] == FAILED && !rb_pending[k] -> skip
			:: else -> settled = false
			fi;
			k++
		:: else -> break
		od;
		if
		:: settled && (paused || aborted) -> break
		:: settled && !paused && !aborted -> phase++; check_failure_budget()
		:: !settled && (paused || aborted || (PH_BATCH_MODE(phase) && inflight > 0)) -> break
		:: else ->
			/* planner_next_batch() in plan order: only UP nodes start */
			i2 = PH_FIRST(phase);
			do
			:: i2 <= PH_LAST(phase) && inflight < PH_BATCH ->
				if
				:: step[i2] == PENDING && !DOWN(i2) ->
					budget_allows(i2, ok);
					if
					:: ok -> taken[i2] = true; halted[i2] = false; inflight++; next_step(i2)
					:: else
					fi
				:: else
				fi;
				i2++
			:: else -> break
			od;
			break
		fi
	od
}

/* s_advance() */
inline advance() {
	check_gates();
	check_failure_budget();
	start_rollbacks();
	start_upgrades();
	check_failure_budget();
	check_budget()
}

/* upgrade_machine_on_result() */
inline on_result(i, id, res) {
	if
	:: cid[i] == 0 || cid[i] != id -> skip              /* UPGRADE_ACT_STALE_RESULT */
	:: else ->
		if
		:: res == R_UNKNOWN ->                          /* s_redeliver(): same id */
			if :: nfull(c2a[i]) -> c2a[i]!cmd[i], cid[i] :: full(c2a[i]) fi
		:: res == J_OK && step[i] == ROLLING_BACK ->
			cmd[i] = C_NONE; cid[i] = 0; step[i] = ROLLED_BACK; halted[i] = false; taken[i] = false
		:: res == J_OK && step[i] != ROLLING_BACK -> next_step(i)
		:: res == J_FAIL || res == J_INTR ->
			if
			:: step[i] == ROLLING_BACK -> fail(i); rb_pending[i] = false
			:: else -> fail(i)
			fi
		fi
	fi
}

/* s_lost(): a step under way fails; a rollback is retried under a new id */
inline lost(i) {
	if
	:: IN_FLIGHT(step[i]) ->
		if
		:: step[i] == ROLLING_BACK -> fail(i); rb_pending[i] = true
		:: else -> fail(i)
		fi
	:: else
	fi
}

/* After a restart, or an agent's Hello: ask about every command in flight. */
inline ask(i) {
	if :: cid[i] != 0 && reach[i] && nfull(q2a[i]) -> q2a[i]!cid[i] :: cid[i] == 0 || !reach[i] || full(q2a[i]) fi
}

proctype coordinator() {
	atomic { advance() }
end:
	do
	/* an agent's result */
	:: atomic { coord_up && nempty(a2c) -> a2c?i, id, res; on_result(i, id, res); advance() }
	/* time passes: health gates and deadlines (only a health gate waits
	 * for time here; without faults results go first, so that a clock
	 * ticking forever is not a way to starve the upgrade) */
	:: atomic { coord_up && TICK_GUARD && (step[0] == VERIFYING || step[1] == VERIFYING ||
	            step[2] == VERIFYING || step[3] == VERIFYING || step[4] == VERIFYING) ->
		k = 0;
		do
		:: k < N ->
			if
			:: step[k] == VERIFYING ->
				if :: v_age[k] < DL + 1 -> v_age[k]++ :: else fi;
				if :: hs_age[k] > 0 && hs_age[k] < DL + 2 -> hs_age[k]++ :: else fi;
				if :: g_vt[k] < DL + 1 -> g_vt[k]++ :: else fi;
				if :: g_run[k] < DL + 1 && healthy[k] && reach[k] -> g_run[k]++ :: else fi
			:: else
			fi;
			k++
		:: else -> break
		od;
		advance() }
	/* a health report (heartbeat) telling the node's real health:
	 * s_apply_health(), gates due first */
	:: atomic { coord_up && reach[0] && healthy[0] != t_healthy[0] -> i = 0; goto health }
	:: atomic { coord_up && reach[1] && healthy[1] != t_healthy[1] -> i = 1; goto health }
	:: atomic { coord_up && reach[2] && healthy[2] != t_healthy[2] -> i = 2; goto health }
	:: atomic { coord_up && reach[3] && healthy[3] != t_healthy[3] -> i = 3; goto health }
	:: atomic { coord_up && reach[4] && healthy[4] != t_healthy[4] -> i = 4; goto health }
#if MAXFAULTS > 0
	/* coordinator crash: what was on its way to it is lost; on restart the
	 * committed state is all it has, and it asks the agents */
	:: atomic { coord_up && faults < MAXFAULTS -> faults++; coord_up = false;
		do :: a2c?_, _, _ :: empty(a2c) -> break od }
	:: atomic { !coord_up -> coord_up = true;
		i = 0; do :: i < N -> ask(i); i++ :: else -> break od; advance() }
	/* a node unreachable mid-step, and back (then its agent says Hello) */
	:: atomic { coord_up && faults < MAXFAULTS -> faults++;
		if :: i = 0 :: i = 1 :: i = 2 :: i = 3 :: i = 4 fi;
		reach[i] = false; g_run[i] = 0;
		do :: c2a[i]?_, _ :: empty(c2a[i]) -> break od;
		check_gates(); lost(i); advance() }
	:: atomic { coord_up && (!reach[0] || !reach[1] || !reach[2] || !reach[3] || !reach[4]) ->
		if :: !reach[0] -> i = 0 :: !reach[1] -> i = 1 :: !reach[2] -> i = 2
		   :: !reach[3] -> i = 3 :: !reach[4] -> i = 4 fi;
		check_gates(); reach[i] = true; healthy[i] = t_healthy[i]; g_run[i] = 0; ask(i); advance() }
	/* a Hello after lost messages: the coordinator asks again */
	:: atomic { coord_up && faults < MAXFAULTS -> faults++;
		if :: i = 0 :: i = 1 :: i = 2 :: i = 3 :: i = 4 fi; ask(i) }
#endif
#if MAXADMIN > 0
	:: atomic { coord_up && admins < MAXADMIN -> admins++;
		if
		:: paused = true
		:: !aborted -> paused = false;
			k = 0; do :: k < NP -> forgiven[k] = failures[k]; tripped[k] = false; k++ :: else -> break od
		:: aborted = true
		:: if :: i = 0 :: i = 1 :: i = 2 :: i = 3 :: i = 4 fi;
			if
			:: step[i] == PENDING -> step[i] = SKIPPED
			:: step[i] != PENDING && step[i] != SKIPPED && step[i] != ROLLED_BACK && step[i] != ROLLING_BACK ->
				rb_pending[i] = true
			:: else
			fi
		fi;
		advance() }
#endif
	od;
health:
	atomic {
		check_gates();
		if
		:: step[i] == VERIFYING ->
			if
			:: !t_healthy[i] -> hs_age[i] = 0
			:: t_healthy[i] && hs_age[i] == 0 && reach[i] -> hs_age[i] = 1
			:: else
			fi
		:: else
		fi;
		healthy[i] = t_healthy[i];
		if :: !healthy[i] -> g_run[i] = 0 :: else fi;
		advance()
	}
	goto end
}

/* The agent: a command is journaled running before it runs, an id seen
 * before is answered from the journal and never run again, a command
 * killed by a crash is reported interrupted after restart. */
proctype agent(byte n) {
	byte ac, aid;
end:
	do
	:: atomic { a_up[n] && j_state[n] != J_RUNNING && nempty(c2a[n]) -> c2a[n]?ac, aid;
		if
		:: (j_seen[n] >> aid) & 1 ->
			if
			:: aid == j_id[n] && j_state[n] != J_RUNNING -> a2c!n, aid, j_state[n]
			:: else
			fi
		:: else ->
			assert(((executed[n] >> aid) & 1) == 0);   /* no id executed twice */
			executed[n] = executed[n] | (1 << aid);
			j_seen[n] = j_seen[n] | (1 << aid);
			j_id[n] = aid; j_cmd[n] = ac; j_state[n] = J_RUNNING
		fi;
		ac = 0; aid = 0 }
	:: atomic { a_up[n] && nempty(q2a[n]) -> q2a[n]?aid;
		if
		:: !((j_seen[n] >> aid) & 1) -> a2c!n, aid, R_UNKNOWN
		:: aid == j_id[n] && j_state[n] != J_RUNNING -> a2c!n, aid, j_state[n]
		:: else   /* still running: it reports when it ends */
		fi;
		aid = 0 }
	/* the command ends */
	:: atomic { a_up[n] && j_state[n] == J_RUNNING ->
		if
		:: j_state[n] = J_OK
#if MAXFAULTS > 0
		:: faults < MAXFAULTS -> faults++; j_state[n] = J_FAIL
#endif
		fi;
		if
		:: j_state[n] == J_OK && j_cmd[n] == C_INSTALL -> ver[n] = true
		:: j_state[n] == J_OK && j_cmd[n] == C_ROLLBACK -> ver[n] = false
		:: else
		fi;
		a2c!n, j_id[n], j_state[n] }
#if MAXFAULTS > 0
	/* agent crash: its queue is lost; the journal is not */
	:: atomic { a_up[n] && faults < MAXFAULTS -> faults++; a_up[n] = false;
		do :: c2a[n]?_, _ :: empty(c2a[n]) -> break od;
		do :: q2a[n]?_ :: empty(q2a[n]) -> break od }
	:: atomic { !a_up[n] -> a_up[n] = true;
		if
		:: j_state[n] == J_RUNNING -> j_state[n] = J_INTR;
			a2c!n, j_id[n], J_INTR
		:: else
		fi }
	/* the node's health flaps */
	:: atomic { faults < MAXFAULTS -> faults++; t_healthy[n] = !t_healthy[n] }
#endif
	od
}

#if MAXFAULTS > 0
/* the network: loses, duplicates and reorders messages */
active proctype network() {
	byte a, b, c;
end:
	do
	:: atomic { faults < MAXFAULTS && nempty(a2c) -> faults++;                /* loss */
		a2c?a, b, c; a = 0; b = 0; c = 0 }
	:: atomic { faults < MAXFAULTS && len(a2c) == 1 -> faults++;              /* duplication */
		a2c?a, b, c; a2c!a, b, c; a2c!a, b, c; a = 0; b = 0; c = 0 }
	:: atomic { faults < MAXFAULTS && len(a2c) >= 2 -> faults++;              /* reordering */
		a2c?a, b, c; a2c!a, b, c; a = 0; b = 0; c = 0 }
	:: atomic { faults < MAXFAULTS && (nempty(c2a[0]) || nempty(c2a[1]) || nempty(c2a[2]) ||
	                                   nempty(c2a[3]) || nempty(c2a[4])) -> faults++;
		if :: nempty(c2a[0]) -> a = 0 :: nempty(c2a[1]) -> a = 1 :: nempty(c2a[2]) -> a = 2
		   :: nempty(c2a[3]) -> a = 3 :: nempty(c2a[4]) -> a = 4 fi;
		if
		:: c2a[a]?b, c                                                       /* loss */
		:: len(c2a[a]) == 1 -> c2a[a]?b, c; c2a[a]!b, c; c2a[a]!b, c         /* duplication */
		:: len(c2a[a]) == 2 -> c2a[a]?b, c; c2a[a]!b, c                      /* reordering */
		fi;
		a = 0; b = 0; c = 0 }
	od
}
#endif

init {
	atomic {
		i = 0;
		do
		:: i < N -> reach[i] = true; healthy[i] = true; t_healthy[i] = true; a_up[i] = true;
			run agent(i); i++
		:: else -> break
		od;
		run coordinator()
	}
}

#ifdef NOFAULTS
/* liveness: with no faults the upgrade completes, every node done */
ltl completes { <> (complete && step[0] == DONE && step[1] == DONE && step[2] == DONE &&
                    step[3] == DONE && step[4] == DONE) }
#endif
