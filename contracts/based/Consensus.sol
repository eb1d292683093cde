// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {MessageHandler} from "../messaging/MessageHandler.sol";
import {Message, Messages} from "../messaging/Messages.sol";
import {Emission} from "./Emission.sol";
import {EmissionSchedule} from "./EmissionSchedule.sol";
import {Network, IPruningOrderSource} from "./Network.sol";

/**
 * @title Consensus
 * @notice Epochs, weights and rewards (docs/architecture.md §3–4). Every Brain runs its Yuma epoch on the same
 * boundaries: epoch `e` is blocks [genesis + e·tempo, genesis + (e+1)·tempo), so one report covers
 * the whole network and the emission of each block is paid exactly once (docs/decisions.md).
 *
 * Validators commit a hash of their weights in one epoch and reveal them in the next; a reveal is
 * refused if it does not match, comes in the commit's own epoch or after the next one, names a uid
 * that is not one of the Brain's miners, lists uids out of order or more than `maxWeights` of them.
 * Revealed weights live in events: the off-chain epoch reads them, and storage stays flat.
 *
 * After an epoch the attesters sign an EPOCH_REPORT (a message from this chain to itself through the
 * MessageInbox): the Merkle root of `(account, amount)` rewards in OpenZeppelin merkle-tree's
 * format, the pruning order of every Brain's members, a hash of every input, and per-Brain totals
 * that must sum to the epoch's emission. Accepting it makes Emission mint exactly
 * `emissionBetween(start, end)` here. The report is final after `challengeWindow` blocks unless
 * someone posts a different result for the same inputs hash with a bond that grows with the
 * emission it freezes (`challengeBondOf`). The attesters answer a challenge with a revision, final
 * at once, which returns the bond if it agrees with the challenger and burns it otherwise; a
 * challenge no revision answers within `challengeTimeout` blocks lapses: the report is final as it
 * stands and the bond is burned (`settleLapsedChallenge`), so no challenge freezes an epoch for
 * good. Accounts claim from final reports with Merkle proofs, once per epoch each.
 */
contract Consensus is MessageHandler, IPruningOrderSource, Ownable2Step, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice Where a report is in its life.
    enum Status {
        None,
        Pending,
        Challenged,
        Settled
    }

    /// @notice An EPOCH_REPORT payload (`abi.encode` of this struct).
    struct ReportPayload {
        uint64 epoch;
        uint32 revision;
        bytes32 rewardsRoot;
        bytes32 pruningRoot;
        bytes32 inputsHash;
        uint16[] brainIds;
        uint256[] brainTotals;
    }

    /// @notice An accepted report. `finalizesAt`: while pending, the end of its challenge window;
    /// while challenged, the block from which it is final without a revision.
    struct Report {
        bytes32 rewardsRoot;
        bytes32 pruningRoot;
        bytes32 inputsHash;
        bytes32 challengedRoot;
        uint256 amount;
        uint256 claimed;
        uint256 bond;
        address challenger;
        uint64 finalizesAt;
        uint32 revision;
        Status status;
    }

    /// @notice How reports are disputed (constructor argument).
    struct ChallengeRules {
        /// The smallest bond, in BASED.
        uint256 minBond;
        /// Blocks after a report's acceptance during which it can be challenged.
        uint64 window;
        /// Blocks after a challenge within which a revision must settle it.
        uint64 timeout;
        /// The bond as a fraction of the epoch's emission, in basis points (at most 10,000).
        uint16 bondBps;
    }

    /// @notice A validator's pending commitment.
    struct Commit {
        bytes32 hash;
        uint64 epoch;
        uint64 blockNumber;
    }

    /// @notice One claim of `claimMany`.
    struct Claim {
        uint64 epoch;
        address account;
        uint256 amount;
        bytes32[] proof;
    }

    /// @notice Message kind of epoch reports.
    uint8 public constant EPOCH_REPORT = Messages.EPOCH_REPORT;
    /// @notice Where forfeited challenge bonds go.
    address public constant BURN_ADDRESS = 0x000000000000000000000000000000000000dEaD;

    /// @notice BASED.
    IERC20 public immutable based;
    /// @notice The minter of the emission.
    Emission public immutable emission;
    /// @notice Membership (who may commit, which uids are miners).
    Network public immutable network;
    /// @notice Blocks per epoch.
    uint64 public immutable tempo;
    /// @notice The first block of epoch 0 (Emission's genesis).
    uint64 public immutable genesisBlock;
    /// @notice The smallest challenge bond (BASED). Governance sets the challenge rules
    /// (`setChallengeRules`); a report keeps the window, and a challenge the bond and timeout, it
    /// started with.
    uint256 public minChallengeBond;
    /// @notice Blocks after a report's acceptance during which it can be challenged.
    uint64 public challengeWindow;
    /// @notice Blocks after a challenge within which a revision must settle it; after them the report
    /// is final as it stands and the bond is lost.
    uint64 public challengeTimeout;
    /// @notice The challenge bond as basis points of the challenged epoch's emission.
    uint16 public challengeBondBps;
    /// @notice The most weights one reveal may set.
    uint16 public maxWeights;
    /// @notice The next epoch whose report is expected.
    uint64 public nextEpoch;

    mapping(uint64 epoch => Report) private _reports;
    mapping(uint64 epoch => mapping(address account => bool)) private _claimed;
    mapping(uint256 brainId => mapping(uint16 uid => Commit)) private _commits;

    /// @notice The caller is not a registered validator of Brain `brainId`.
    error NotValidator(uint256 brainId, address caller);
    /// @notice The commitment hash must not be zero.
    error EmptyCommit();
    /// @notice The caller has no commitment to reveal in Brain `brainId`.
    error NoCommit(uint256 brainId, uint16 uid);
    /// @notice Reveals of a commitment of epoch `commitEpoch` are open in epoch `commitEpoch + 1` only.
    error RevealTooEarly(uint64 currentEpoch, uint64 commitEpoch);
    /// @notice The reveal window of epoch `commitEpoch`'s commitment has closed.
    error RevealTooLate(uint64 currentEpoch, uint64 commitEpoch);
    /// @notice The revealed weights and salt do not hash to the commitment.
    error CommitMismatch(bytes32 expected, bytes32 actual);
    /// @notice Weights are packed `(uint16 uid, uint16 weight)` pairs: 4 bytes each.
    error MalformedWeights(uint256 length);
    /// @notice `count` weights exceed `maxWeights`.
    error TooManyWeights(uint256 count, uint256 max);
    /// @notice Uids must be strictly ascending; entry `index` is not.
    error UidsNotAscending(uint256 index);
    /// @notice Uid `uid` is not a miner of the Brain.
    error UnknownUid(uint16 uid);
    /// @notice The report is for epoch `epoch`; the expected one is `expected`.
    error UnexpectedEpoch(uint64 epoch, uint64 expected);
    /// @notice A report arrived before its epoch ended (the selector is `ReportRejected`'s reason).
    error EpochNotOver();
    /// @notice The per-Brain totals sum to `sum`, not the epoch's emission `emission`.
    error TotalsMismatch(uint256 sum, uint256 emission);
    /// @notice The per-Brain lists differ in length or their ids are not strictly ascending.
    error MalformedTotals();
    /// @notice A revision must settle an open challenge and be numbered one above the report's
    /// (the selector is `ReportRejected`'s reason).
    error UnexpectedRevision();
    /// @notice A report's message nonce must be `2^63 | (epoch << 32) | revision` of its payload: the
    /// nonce space Consensus keeps for the inbox (`Messages.nonceSpace`). The selector is
    /// `ReportRejected`'s reason.
    error WrongReportNonce();
    /// @notice Epoch `epoch`'s report is not final (pending its window, challenged, or missing).
    error ReportNotFinal(uint64 epoch);
    /// @notice The report of epoch `epoch` can no longer be challenged.
    error ChallengeClosed(uint64 epoch);
    /// @notice A challenge must be about the same inputs (`expected`).
    error InputsHashMismatch(bytes32 expected, bytes32 actual);
    /// @notice A challenge must post a different result.
    error SameResult();
    /// @notice `account` already claimed epoch `epoch`.
    error AlreadyClaimed(uint64 epoch, address account);
    /// @notice The proof does not show `(account, amount)` in epoch `epoch`'s rewards root.
    error InvalidProof(uint64 epoch, address account, uint256 amount);
    /// @notice Paying this claim would pay out more than the epoch's emission.
    error ClaimExceedsEmission(uint64 epoch);
    /// @notice `maxWeights` must be between 1 and 2,048.
    error InvalidMaxWeights(uint16 value);
    /// @notice The tempo must be positive.
    error InvalidTempo();
    /// @notice The challenge timeout must be positive and the bond's basis points at most 10,000.
    error InvalidChallengeRules();
    /// @notice Epoch `epoch` has no challenge past its timeout (`lapsesAt`; 0: none open).
    error NoLapsedChallenge(uint64 epoch, uint64 lapsesAt);

    /// @notice A validator (uid `uid`) of Brain `brainId` committed `hash` in epoch `epoch`.
    event WeightsCommitted(
        uint256 indexed brainId,
        uint16 indexed uid,
        address validator,
        uint64 epoch,
        bytes32 hash
    );
    /// @notice Validator `uid` of Brain `brainId` revealed its epoch-`epoch` weights: packed
    /// `(uint16 uid, uint16 weight)` pairs, big-endian, uids ascending.
    event WeightsRevealed(
        uint256 indexed brainId,
        uint16 indexed uid,
        address validator,
        uint64 epoch,
        bytes weights
    );
    /// @notice The report of epoch `epoch` (revision `revision`) was accepted; `amount` is its emission and
    /// `totalsHash` = keccak256(abi.encode(brainIds, brainTotals)): the per-Brain totals themselves are
    /// in the delivering transaction's calldata (repeating 1,024 of them in the log would cost ~0.5M gas).
    event ReportAccepted(
        uint64 indexed epoch,
        uint32 revision,
        bytes32 rewardsRoot,
        bytes32 pruningRoot,
        bytes32 inputsHash,
        uint256 amount,
        bytes32 totalsHash
    );
    /// @notice A report was consumed without effect: `reason` is the selector of `EpochNotOver` (it came
    /// before its epoch ended), `UnexpectedRevision` (no open challenge for it to settle: none, one
    /// past its timeout, or another revision number) or `WrongReportNonce` (its nonce is not its
    /// epoch and revision).
    event ReportRejected(uint64 indexed epoch, uint32 revision, bytes4 reason);
    /// @notice `challenger` disputed epoch `epoch`'s report with `root`, bonding `bond`; without a
    /// revision the report is final from block `lapsesAt`.
    event ReportChallenged(
        uint64 indexed epoch,
        address indexed challenger,
        bytes32 root,
        uint256 bond,
        uint64 lapsesAt
    );
    /// @notice The challenge of epoch `epoch` was settled; `upheld` if the revision took its root.
    event ChallengeResolved(uint64 indexed epoch, address indexed challenger, bool upheld);
    /// @notice The challenge of epoch `epoch` got no revision in time: the report stood and `bond` burned.
    event ChallengeLapsed(uint64 indexed epoch, address indexed challenger, uint256 bond);
    /// @notice `account` received `amount` from epoch `epoch`.
    event Claimed(uint64 indexed epoch, address indexed account, uint256 amount);
    /// @notice Reveals may set at most `value` weights.
    event MaxWeightsSet(uint16 value);
    /// @notice Challenges now have a window of `window` blocks, `timeout` blocks for a revision and a
    /// bond of `bondBps` of the epoch's emission, at least `minBond`.
    event ChallengeRulesSet(uint64 window, uint64 timeout, uint256 minBond, uint16 bondBps);

    /**
     * @param inbox_ The BasedAI chain's MessageInbox.
     * @param basedChainId This chain's id (reports are messages from this chain to itself).
     * @param emission_ The Emission contract (its genesis block starts epoch 0).
     * @param network_ The Network.
     * @param tempo_ Blocks per epoch.
     * @param challenge_ Window, timeout and bond of challenges.
     * @param maxWeights_ The most weights per reveal.
     * @param owner_ Governance: sets `maxWeights` and the challenge rules.
     */
    constructor(
        address inbox_,
        uint64 basedChainId,
        Emission emission_,
        Network network_,
        uint64 tempo_,
        ChallengeRules memory challenge_,
        uint16 maxWeights_,
        address owner_
    ) MessageHandler(inbox_, basedChainId, Messages.EPOCH_REPORT) Ownable(owner_) {
        if (address(emission_) == address(0) || address(network_) == address(0)) revert ZeroAddress();
        if (tempo_ == 0) revert InvalidTempo();
        based = IERC20(address(emission_.based()));
        emission = emission_;
        network = network_;
        tempo = tempo_;
        genesisBlock = emission_.genesisBlock();
        _setChallengeRules(challenge_);
        _setMaxWeights(maxWeights_);
    }

    // ───────────────────────────────────────────── Views ─────────────────────────────────────────────

    /// @notice The epoch block `blockNumber` belongs to (0 before genesis).
    function epochAt(uint256 blockNumber) public view returns (uint64) {
        if (blockNumber < genesisBlock) return 0;
        return uint64((blockNumber - genesisBlock) / tempo);
    }

    /// @notice The current epoch.
    function currentEpoch() public view returns (uint64) {
        return epochAt(block.number);
    }

    /// @notice Epoch `epoch`'s blocks: [startBlock, endBlock).
    function epochBounds(uint64 epoch) public view returns (uint64 startBlock, uint64 endBlock) {
        startBlock = genesisBlock + epoch * tempo;
        endBlock = startBlock + tempo;
    }

    /// @notice The commitment a validator makes: binds the Brain, the validator, the epoch, the packed
    /// weights and a secret salt.
    function commitHash(
        uint256 brainId,
        address validator,
        uint64 epoch,
        bytes calldata weights,
        bytes32 salt
    ) public pure returns (bytes32) {
        return keccak256(abi.encode(brainId, validator, epoch, keccak256(weights), salt));
    }

    /// @notice Validator `uid`'s pending commitment in Brain `brainId`.
    function commitOf(uint256 brainId, uint16 uid) external view returns (Commit memory) {
        return _commits[brainId][uid];
    }

    /// @notice The report of epoch `epoch`.
    function report(uint64 epoch) external view returns (Report memory) {
        return _reports[epoch];
    }

    /// @notice Whether epoch `epoch`'s report is final (claimable): settled, past its window
    /// unchallenged, or challenged and past the timeout without a revision.
    function isFinal(uint64 epoch) public view returns (bool) {
        Report storage r = _reports[epoch];
        return r.status == Status.Settled || (r.status != Status.None && block.number >= r.finalizesAt);
    }

    /// @notice The bond a challenge of epoch `epoch`'s report takes: `challengeBondBps` of its
    /// emission, at least `minChallengeBond`, so the price of freezing an epoch grows with what it
    /// freezes.
    function challengeBondOf(uint64 epoch) public view returns (uint256) {
        uint256 scaled = (_reports[epoch].amount * challengeBondBps) / 10_000;
        return scaled > minChallengeBond ? scaled : minChallengeBond;
    }

    /// @notice Whether `account` claimed epoch `epoch`.
    function claimed(uint64 epoch, address account) external view returns (bool) {
        return _claimed[epoch][account];
    }

    /// @inheritdoc IPruningOrderSource
    function pruningOrder() external view returns (uint64 epoch, bytes32 root) {
        uint64 next = nextEpoch;
        if (next == 0) return (0, bytes32(0));
        epoch = next - 1;
        Report storage r = _reports[epoch];
        if (r.status == Status.Challenged && block.number < r.finalizesAt) return (epoch, bytes32(0));
        root = r.pruningRoot;
    }

    /// @notice The Merkle leaf of a reward, as StandardMerkleTree builds it for `[address, uint256]`.
    function rewardLeaf(address account, uint256 amount) public pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(account, amount))));
    }

    // ──────────────────────────────────────────── Weights ────────────────────────────────────────────

    /// @notice Commits the caller's weights for Brain `brainId` in the current epoch (replacing a
    /// commitment not yet revealed). `hash` is `commitHash(brainId, caller, currentEpoch, weights, salt)`.
    function commitWeights(uint256 brainId, bytes32 hash) external {
        if (hash == bytes32(0)) revert EmptyCommit();
        uint16 uid = _validatorUid(brainId);
        uint64 epoch = currentEpoch();
        _commits[brainId][uid] = Commit(hash, epoch, uint64(block.number));
        emit WeightsCommitted(brainId, uid, msg.sender, epoch, hash);
    }

    /**
     * @notice Reveals the weights committed in the previous epoch.
     * @param weights Packed `(uint16 uid, uint16 weight)` pairs, big-endian, uids strictly
     * ascending, each a miner of the Brain; at most `maxWeights` pairs.
     * @param salt The commitment's salt.
     */
    function revealWeights(uint256 brainId, bytes calldata weights, bytes32 salt) external {
        uint16 uid = _validatorUid(brainId);
        Commit memory c = _commits[brainId][uid];
        if (c.hash == bytes32(0)) revert NoCommit(brainId, uid);
        uint64 current = currentEpoch();
        if (current <= c.epoch) revert RevealTooEarly(current, c.epoch);
        if (current > c.epoch + 1) revert RevealTooLate(current, c.epoch);
        bytes32 actual = commitHash(brainId, msg.sender, c.epoch, weights, salt);
        if (actual != c.hash) revert CommitMismatch(c.hash, actual);
        _checkWeights(brainId, weights, c.blockNumber);
        delete _commits[brainId][uid];
        emit WeightsRevealed(brainId, uid, msg.sender, c.epoch, weights);
    }

    // ──────────────────────────────────────────── Rewards ────────────────────────────────────────────

    /**
     * @notice Disputes epoch `epoch`'s pending report within its window: the caller posts a different
     * rewards root for the same inputs hash and a bond of `challengeBondOf(epoch)` BASED (approved
     * here). The attesters have `challengeTimeout` blocks to settle it with a revision.
     */
    function challenge(uint64 epoch, bytes32 inputsHash, bytes32 rewardsRoot) external nonReentrant {
        Report storage r = _reports[epoch];
        if (r.status != Status.Pending || block.number >= r.finalizesAt) revert ChallengeClosed(epoch);
        if (inputsHash != r.inputsHash) revert InputsHashMismatch(r.inputsHash, inputsHash);
        if (rewardsRoot == r.rewardsRoot) revert SameResult();
        uint256 bond = challengeBondOf(epoch);
        uint64 lapsesAt = uint64(block.number) + challengeTimeout;
        r.status = Status.Challenged;
        r.challenger = msg.sender;
        r.challengedRoot = rewardsRoot;
        r.bond = bond;
        r.finalizesAt = lapsesAt;
        emit ReportChallenged(epoch, msg.sender, rewardsRoot, bond, lapsesAt);
        if (bond != 0) based.safeTransferFrom(msg.sender, address(this), bond);
    }

    /**
     * @notice Closes a challenge that no revision settled within `challengeTimeout`: the report stands
     * and the bond is burned (anyone may call it; claims do not wait for it).
     */
    function settleLapsedChallenge(uint64 epoch) external nonReentrant {
        Report storage r = _reports[epoch];
        if (r.status != Status.Challenged || block.number < r.finalizesAt) {
            revert NoLapsedChallenge(epoch, r.status == Status.Challenged ? r.finalizesAt : 0);
        }
        r.status = Status.Settled;
        uint256 bond = r.bond;
        emit ChallengeLapsed(epoch, r.challenger, bond);
        if (bond != 0) based.safeTransfer(BURN_ADDRESS, bond);
    }

    /// @notice Pays `amount` to `account` from final epoch `epoch` (anyone may submit it).
    function claim(
        uint64 epoch,
        address account,
        uint256 amount,
        bytes32[] calldata proof
    ) external nonReentrant {
        _claim(epoch, account, amount, proof);
    }

    /// @notice Several claims in one transaction (e.g. one account over many epochs).
    function claimMany(Claim[] calldata claims) external nonReentrant {
        for (uint256 i = 0; i < claims.length; ++i) {
            Claim calldata c = claims[i];
            _claim(c.epoch, c.account, c.amount, c.proof);
        }
    }

    // ─────────────────────────────────────────── Governance ──────────────────────────────────────────

    /// @notice Sets the most weights per reveal (1 … 2,048).
    function setMaxWeights(uint16 value) external onlyOwner {
        _setMaxWeights(value);
    }

    /// @notice Sets the challenge window, timeout and bond for reports accepted and challenges made
    /// from now on (a timeout of at least one block, a bond of at most 100 % of the emission).
    function setChallengeRules(ChallengeRules calldata rules) external onlyOwner {
        _setChallengeRules(rules);
    }

    // ─────────────────────────────────────────── Internals ───────────────────────────────────────────

    /// @dev EPOCH_REPORT: a first report (revision 0) of the next epoch, or a revision settling a challenge.
    function _handle(bytes32, Message calldata message) internal override {
        ReportPayload memory p = abi.decode(message.payload, (ReportPayload));
        // The nonce names the payload's (epoch, revision), so at most one report takes effect per
        // nonce (the inbox leaves this kind's nonces to this contract). Computed in 256 bits: an
        // epoch of 2^31 or more has no nonce and is always rejected.
        uint256 expectedNonce = (uint256(1) << 63) | (uint256(p.epoch) << 32) | p.revision;
        if (message.nonce != expectedNonce) return _reject(p, WrongReportNonce.selector);
        uint256 sum = _sumTotals(p.brainIds, p.brainTotals);
        Report storage r = _reports[p.epoch];
        if (p.revision == 0) {
            if (p.epoch != nextEpoch) revert UnexpectedEpoch(p.epoch, nextEpoch);
            (uint64 start, uint64 end) = epochBounds(p.epoch);
            // Consumed, not failed: a report computed before its epoch ended must never be retried
            // into force once the epoch is over.
            if (end > block.number) return _reject(p, EpochNotOver.selector);
            uint256 amount = EmissionSchedule.emissionBetween(start, end);
            if (sum != amount) revert TotalsMismatch(sum, amount);
            nextEpoch = p.epoch + 1;
            r.amount = amount;
            r.finalizesAt = uint64(block.number) + challengeWindow;
            r.status = Status.Pending;
            emission.release(end);
        } else {
            // Consumed as well: a revision settles only the challenge open when it arrives, so a
            // stale one cannot be retried to settle a later challenge. Past the timeout the report
            // is final and may already be claimed from: a revision must not change it then.
            if (
                r.status != Status.Challenged || block.number >= r.finalizesAt || p.revision != r.revision + 1
            ) {
                return _reject(p, UnexpectedRevision.selector);
            }
            if (sum != r.amount) revert TotalsMismatch(sum, r.amount);
            r.status = Status.Settled;
            bool upheld = p.rewardsRoot == r.challengedRoot;
            emit ChallengeResolved(p.epoch, r.challenger, upheld);
            if (r.bond != 0) based.safeTransfer(upheld ? r.challenger : BURN_ADDRESS, r.bond);
        }
        r.revision = p.revision;
        r.rewardsRoot = p.rewardsRoot;
        r.pruningRoot = p.pruningRoot;
        r.inputsHash = p.inputsHash;
        emit ReportAccepted(
            p.epoch,
            p.revision,
            p.rewardsRoot,
            p.pruningRoot,
            p.inputsHash,
            r.amount,
            keccak256(abi.encode(p.brainIds, p.brainTotals))
        );
    }

    function _reject(ReportPayload memory p, bytes4 reason) private {
        emit ReportRejected(p.epoch, p.revision, reason);
    }

    function _claim(uint64 epoch, address account, uint256 amount, bytes32[] calldata proof) private {
        if (!isFinal(epoch)) revert ReportNotFinal(epoch);
        if (_claimed[epoch][account]) revert AlreadyClaimed(epoch, account);
        Report storage r = _reports[epoch];
        if (!MerkleProof.verifyCalldata(proof, r.rewardsRoot, rewardLeaf(account, amount))) {
            revert InvalidProof(epoch, account, amount);
        }
        uint256 paid = r.claimed + amount;
        // A correct tree sums to the emission; this bounds the damage of one that does not.
        if (paid > r.amount) revert ClaimExceedsEmission(epoch);
        r.claimed = paid;
        _claimed[epoch][account] = true;
        emit Claimed(epoch, account, amount);
        based.safeTransfer(account, amount);
    }

    function _validatorUid(uint256 brainId) private view returns (uint16 uid) {
        Network.Role role;
        (role, uid) = network.roleOf(brainId, msg.sender);
        if (role != Network.Role.Validator) revert NotValidator(brainId, msg.sender);
    }

    /// @dev Checks packing, count, order and that every uid is a miner, or was one that left after the
    /// commitment (against the miner bitmap, read once: eight storage words however many weights
    /// there are; a removal block only for a uid that is not a miner now).
    function _checkWeights(uint256 brainId, bytes calldata weights, uint64 committedAt) private view {
        if (weights.length % 4 != 0) revert MalformedWeights(weights.length);
        uint256 n = weights.length / 4;
        if (n > maxWeights) revert TooManyWeights(n, maxWeights);
        uint256[8] memory miners = network.minerBitmap(brainId);
        uint256 previous = 0;
        for (uint256 i = 0; i < n; ++i) {
            uint256 uid = uint16(bytes2(weights[i * 4:i * 4 + 2]));
            if (i != 0 && uid <= previous) revert UidsNotAscending(i);
            if (uid >= 2_048) revert UnknownUid(uint16(uid));
            // A miner that left after the commitment keeps its weight here (the validator could not
            // have known); the epoch computation drops weights set before a uid's registration.
            if (
                (miners[uid / 256] >> (uid % 256)) & 1 == 0 &&
                network.lastRemovedAt(brainId, uint16(uid)) < committedAt
            ) {
                revert UnknownUid(uint16(uid));
            }
            previous = uid;
        }
    }

    function _sumTotals(
        uint16[] memory brainIds,
        uint256[] memory totals
    ) private pure returns (uint256 sum) {
        if (brainIds.length != totals.length) revert MalformedTotals();
        for (uint256 i = 0; i < totals.length; ++i) {
            if (i != 0 && brainIds[i] <= brainIds[i - 1]) revert MalformedTotals();
            sum += totals[i];
        }
    }

    function _setChallengeRules(ChallengeRules memory rules) private {
        if (rules.timeout == 0 || rules.bondBps > 10_000) revert InvalidChallengeRules();
        minChallengeBond = rules.minBond;
        challengeWindow = rules.window;
        challengeTimeout = rules.timeout;
        challengeBondBps = rules.bondBps;
        emit ChallengeRulesSet(rules.window, rules.timeout, rules.minBond, rules.bondBps);
    }

    function _setMaxWeights(uint16 value) private {
        if (value == 0 || value > 2_048) revert InvalidMaxWeights(value);
        maxWeights = value;
        emit MaxWeightsSet(value);
    }
}
