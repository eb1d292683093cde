// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IGovernor} from "@openzeppelin/contracts/governance/IGovernor.sol";

/**
 * @notice What the Pepecoin house needs from its governor (GigaBrainGovernor).
 */
interface IPepecoinHouseGovernor {
    /// @notice The proposal's state (IGovernor.state).
    function state(uint256 proposalId) external view returns (IGovernor.ProposalState);

    /// @notice The governance executor (the Ethereum TimelockController).
    function timelock() external view returns (address);

    /// @notice Called once per proposal when its veto is first reached, to keep the vote open a while longer.
    function extendForVeto(uint256 proposalId) external;
}

/**
 * @title PepecoinHouse
 * @notice The Pepecoin house of GigaBrain governance: PEPE holders lock PEPE on a proposal, For or
 * Against, while its vote is active. If the PEPE locked Against exceeds the PEPE locked For and
 * reaches `vetoQuorum`, the proposal is vetoed (the governor counts it Defeated).
 *
 * Lock-to-vote instead of a balance snapshot: PEPE is a plain ERC-20 without checkpoints, and a
 * lock stays until the vote ends, so borrowed PEPE (a flash loan) can never vote: it could not be
 * repaid in the same transaction. Once the vote is over (whatever the outcome, cancelled included)
 * every locker takes back exactly what it locked. The tallies stay as they were after unlocking,
 * so unlocking never changes a proposal's outcome.
 *
 * The governor creates this contract in its own constructor; `vetoQuorum` changes only through a
 * governance proposal (a call from the governor's timelock).
 */
contract PepecoinHouse is ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice Lock against the proposal (same number as the governor's Against).
    uint8 public constant AGAINST = 0;
    /// @notice Lock for the proposal (same number as the governor's For).
    uint8 public constant FOR = 1;

    /**
     * @notice The house's tally of one proposal. Two slots.
     * @param forLocked PEPE locked For (never decreases: unlocking leaves the tally as it was).
     * @param againstLocked PEPE locked Against (idem).
     * @param quorum `vetoQuorum` when the first lock on the proposal was made, so that changing the
     * parameter never changes a vote under way.
     * @param started True once a lock was made (and `quorum` recorded).
     * @param extended True once the veto was reached and the governor asked to extend the vote.
     */
    struct Tally {
        uint128 forLocked;
        uint128 againstLocked;
        uint128 quorum;
        bool started;
        bool extended;
    }

    /// @notice The PEPE token.
    IERC20 public immutable pepecoin;
    /// @notice The governor whose proposals this house votes on (the deployer of this contract).
    IPepecoinHouseGovernor public immutable governor;
    /// @notice Least PEPE (wei) locked Against for a veto (in addition to Against > For).
    uint256 public vetoQuorum;

    mapping(uint256 proposalId => Tally) private _tallies;
    // PEPE an account locked on a proposal, [Against, For]; zeroed when it is unlocked.
    mapping(uint256 proposalId => mapping(address account => uint128[2])) private _locked;

    /// @notice `account` locked `amount` PEPE on `proposalId` (`support`: 0 Against, 1 For).
    event Locked(uint256 indexed proposalId, address indexed account, uint8 support, uint256 amount);
    /// @notice `account` took back its `amount` PEPE locked on `proposalId`.
    event Unlocked(uint256 indexed proposalId, address indexed account, uint256 amount);
    /// @notice Governance changed the veto quorum (applies to proposals without a lock yet).
    event VetoQuorumSet(uint256 vetoQuorum);

    /// @notice Locks are taken only while the proposal's vote is active.
    error VoteNotActive(uint256 proposalId, IGovernor.ProposalState state);
    /// @notice PEPE comes back only once the proposal's vote is over (or it was cancelled).
    error VoteNotOver(uint256 proposalId, IGovernor.ProposalState state);
    /// @notice Support must be 0 (Against) or 1 (For): the house has no Abstain.
    error InvalidSupport(uint8 support);
    /// @notice Locking nothing is refused.
    error ZeroAmount();
    /// @notice The account has nothing locked on the proposal.
    error NothingLocked(uint256 proposalId, address account);
    /// @notice Only governance (the governor's timelock) may change the parameter.
    error NotGovernance(address caller);
    /// @notice A required address was zero.
    error ZeroAddress();

    /**
     * @param pepecoin_ The PEPE token.
     * @param vetoQuorum_ Initial veto quorum, PEPE wei.
     */
    constructor(address pepecoin_, uint256 vetoQuorum_) {
        if (pepecoin_ == address(0)) revert ZeroAddress();
        pepecoin = IERC20(pepecoin_);
        governor = IPepecoinHouseGovernor(msg.sender);
        // Checked here so that a later lock cannot fail on the cast.
        vetoQuorum = SafeCast.toUint128(vetoQuorum_);
        emit VetoQuorumSet(vetoQuorum_);
    }

    /**
     * @notice Locks `amount` PEPE of the caller (approve it to this contract first) on `proposalId`
     * until its vote is over. Several locks add up, on either side.
     * @param proposalId An Active proposal of the governor.
     * @param support 0 Against, 1 For.
     * @param amount PEPE wei.
     */
    function lock(uint256 proposalId, uint8 support, uint256 amount) external nonReentrant {
        if (support > FOR) revert InvalidSupport(support);
        if (amount == 0) revert ZeroAmount();
        IGovernor.ProposalState s = governor.state(proposalId);
        if (s != IGovernor.ProposalState.Active) revert VoteNotActive(proposalId, s);

        // Count what arrived, not what was asked: a token taking a fee must not let an unlock pay
        // out more than this contract holds for the account.
        uint256 before = pepecoin.balanceOf(address(this));
        pepecoin.safeTransferFrom(msg.sender, address(this), amount);
        uint128 received = SafeCast.toUint128(pepecoin.balanceOf(address(this)) - before);

        Tally storage t = _tallies[proposalId];
        if (!t.started) {
            t.started = true;
            t.quorum = SafeCast.toUint128(vetoQuorum);
        }
        if (support == FOR) t.forLocked += received;
        else t.againstLocked += received;
        _locked[proposalId][msg.sender][support] += received;
        emit Locked(proposalId, msg.sender, support, received);

        // The first time the veto holds, the vote stays open `lateQuorumVoteExtension` longer so
        // the For side can answer a last-minute lock (the governor's late-quorum rule, for PEPE).
        if (!t.extended && _vetoed(t)) {
            t.extended = true;
            governor.extendForVeto(proposalId);
        }
    }

    /**
     * @notice Returns all the PEPE the caller locked on `proposalId`, once its vote is over (any
     * state but Pending and Active: defeated, succeeded, cancelled … alike).
     * @param proposalId The proposal.
     * @return amount PEPE wei returned.
     */
    function unlock(uint256 proposalId) external nonReentrant returns (uint256 amount) {
        IGovernor.ProposalState s = governor.state(proposalId);
        if (s == IGovernor.ProposalState.Pending || s == IGovernor.ProposalState.Active) {
            revert VoteNotOver(proposalId, s);
        }
        uint128[2] storage mine = _locked[proposalId][msg.sender];
        amount = uint256(mine[0]) + uint256(mine[1]);
        if (amount == 0) revert NothingLocked(proposalId, msg.sender);
        delete _locked[proposalId][msg.sender];
        emit Unlocked(proposalId, msg.sender, amount);
        pepecoin.safeTransfer(msg.sender, amount);
    }

    /**
     * @notice Sets the veto quorum of proposals that have no lock yet. Governance only.
     * @param vetoQuorum_ PEPE wei.
     */
    function setVetoQuorum(uint256 vetoQuorum_) external {
        if (msg.sender != governor.timelock()) revert NotGovernance(msg.sender);
        // Checked here so that a later lock cannot fail on the cast.
        vetoQuorum = SafeCast.toUint128(vetoQuorum_);
        emit VetoQuorumSet(vetoQuorum_);
    }

    // ───────────────────────────────────────────── Views ─────────────────────────────────────────────

    /// @notice Whether the house vetoes `proposalId`: Against > For and Against ≥ the proposal's quorum.
    function vetoed(uint256 proposalId) external view returns (bool) {
        return _vetoed(_tallies[proposalId]);
    }

    /// @notice The house's tally of `proposalId`.
    function tallyOf(uint256 proposalId) external view returns (Tally memory) {
        return _tallies[proposalId];
    }

    /// @notice PEPE `account` has locked on `proposalId` (not yet unlocked), Against and For.
    function lockedOf(
        uint256 proposalId,
        address account
    ) external view returns (uint256 against, uint256 for_) {
        uint128[2] storage amounts = _locked[proposalId][account];
        return (amounts[0], amounts[1]);
    }

    function _vetoed(Tally storage t) private view returns (bool) {
        return t.started && t.againstLocked > t.forLocked && t.againstLocked >= t.quorum;
    }
}
