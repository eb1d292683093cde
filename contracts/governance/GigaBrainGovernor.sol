// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC721} from "@openzeppelin/contracts/token/ERC721/IERC721.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {Governor} from "@openzeppelin/contracts/governance/Governor.sol";
import {GovernorPreventLateQuorum} from "@openzeppelin/contracts/governance/extensions/GovernorPreventLateQuorum.sol";
import {GovernorTimelockControl} from "@openzeppelin/contracts/governance/extensions/GovernorTimelockControl.sol";
import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";
import {GigaBrainSets} from "./GigaBrainSets.sol";
import {PepecoinHouse} from "./PepecoinHouse.sol";

/**
 * @title GigaBrainGovernor
 * @notice BasedAI governance on Ethereum: an OpenZeppelin Governor whose voters are the GigaBrains
 * (Brains with at least 0.5 % of all BasedAI stake, `GigaBrainSets`), one vote per GigaBrain
 * whatever its stake, cast by the Brain NFT's owner at the time of the vote, with a Pepecoin house
 * that can veto (`PepecoinHouse`), executing through a TimelockController.
 *
 * Two regimes, fixed per proposal when it is made:
 * - **Optimistic** (proposals made in the first `OPTIMISTIC_PERIOD` after deployment): only the
 *   Labs proposer proposes; the proposal passes unless more than half of the snapshot's GigaBrains
 *   vote Against (or the Pepecoin house vetoes).
 * - **GigaBrain** (later): any owner of a current GigaBrain proposes, naming that Brain
 *   (`proposeWithBrain`); the proposal passes when For > Against, at least a third of the snapshot's
 *   GigaBrains voted (For, Against or Abstain), and the Pepecoin house did not veto.
 *
 * The snapshot is the GigaBrain set in force at the proposal's vote start (`proposalSnapshot`, a
 * timestamp): a Brain that became a GigaBrain later does not vote on it. The vote belongs to the
 * Brain id: once a Brain voted, selling it does not let the buyer vote again. Votes carry the Brain
 * id as the Governor's vote `params` (`abi.encode(uint256 brainId)`; `castBrainVote` does it).
 *
 * Safety: a vote that first reaches the GigaBrain quorum, or a PEPE lock that first reaches the veto,
 * keeps the vote open `lateQuorumVoteExtension` longer (GovernorPreventLateQuorum, and the same rule
 * for the veto). A successful proposal must be queued, and a queued one executed, within
 * `gracePeriod`, else it is Expired for good. Proposal ids are OpenZeppelin's hash of the actions and
 * the description: the same actions with the same description cannot be proposed twice (use another
 * description; `#proposer=<address>` at its end stops anyone else from taking it first). The
 * timelock must list this governor as its only proposer, canceller and executor, so that nothing
 * reaches it but a proposal that passed, and an expired or cancelled one never runs.
 *
 * There is no admin: the parameters change only through proposals (`onlyGovernance`).
 */
contract GigaBrainGovernor is Governor, GovernorPreventLateQuorum, GovernorTimelockControl {
    /// @notice How long after deployment proposals follow the optimistic rule (and only Labs proposes).
    uint256 public constant OPTIMISTIC_PERIOD = 365 days;
    /// @notice Governor `support` values (Bravo).
    uint8 internal constant AGAINST = 0;
    uint8 internal constant FOR = 1;
    uint8 internal constant ABSTAIN = 2;

    /**
     * @notice The GigaBrain house's tally of one proposal. One slot.
     * @param forVotes GigaBrains For.
     * @param againstVotes GigaBrains Against.
     * @param abstainVotes GigaBrains Abstain.
     * @param optimistic True for a proposal made in the optimistic period.
     * @param vetoDeadline Set when the Pepecoin veto was first reached: the vote lasts at least until then.
     */
    struct Tally {
        uint16 forVotes;
        uint16 againstVotes;
        uint16 abstainVotes;
        bool optimistic;
        uint48 vetoDeadline;
    }

    /// @notice BrainNFT: the owner of a Brain casts its vote.
    IERC721 public immutable brainNFT;
    /// @notice The GigaBrain sets delivered from the BasedAI chain.
    GigaBrainSets public immutable gigaBrains;
    /// @notice The Pepecoin house (created by this contract).
    PepecoinHouse public immutable pepecoinHouse;
    /// @notice Based Labs' proposer: the only proposer during the optimistic period, nothing after it.
    address public immutable labsProposer;
    /// @notice Deployment time: the optimistic period runs until `genesis + OPTIMISTIC_PERIOD`.
    uint48 public immutable genesis;
    /// @notice How long a successful proposal may wait to be queued, and a queued one to be executed.
    uint48 public immutable gracePeriod;
    uint48 private immutable _votingDelay;
    uint32 private immutable _votingPeriod;

    mapping(uint256 proposalId => Tally) private _tallies;
    // Bit (id % 256) of word (id / 256) is set once Brain `id` voted on the proposal.
    mapping(uint256 proposalId => uint256[4]) private _brainVoted;
    mapping(uint256 proposalId => mapping(address account => bool)) private _accountVoted;

    /// @notice `proposer` made `proposalId` with its GigaBrain `brainId`.
    event ProposedWithBrain(uint256 indexed proposalId, uint256 indexed brainId, address indexed proposer);
    /// @notice `voter`, owner of GigaBrain `brainId`, voted `support` (0 Against, 1 For, 2 Abstain).
    event BrainVoteCast(
        uint256 indexed proposalId,
        uint256 indexed brainId,
        address indexed voter,
        uint8 support
    );

    /// @notice In the optimistic period only the Labs proposer proposes.
    error NotLabsProposer(address caller);
    /// @notice After the optimistic period proposals name a GigaBrain: use `proposeWithBrain`.
    error OptimisticPeriodOver(uint256 endedAt);
    /// @notice `proposeWithBrain` is for after the optimistic period.
    error OptimisticPeriodActive(uint256 endsAt);
    /// @notice The Brain is not a GigaBrain at `timepoint` (now, or the proposal's snapshot).
    error NotGigaBrain(uint256 brainId, uint256 timepoint);
    /// @notice The caller does not own the Brain.
    error NotBrainOwner(uint256 brainId, address caller, address owner);
    /// @notice The Brain already voted on this proposal (maybe under a previous owner).
    error BrainAlreadyVoted(uint256 proposalId, uint256 brainId);
    /// @notice A vote must name its Brain: `params = abi.encode(uint256 brainId)` (see `castBrainVote`).
    error BrainIdRequired();
    /// @notice Only the Pepecoin house reports its veto.
    error NotPepecoinHouse(address caller);
    /// @notice A required address was zero.
    error ZeroAddress();

    /**
     * @param brainNFT_ BrainNFT.
     * @param gigaBrains_ The GigaBrainSets handler.
     * @param pepecoin The PEPE token (for the Pepecoin house).
     * @param timelock_ Ethereum's TimelockController (this governor: sole proposer, canceller, executor).
     * @param labsProposer_ Based Labs' proposer for the optimistic period.
     * @param votingDelay_ Seconds from a proposal to its vote start (its snapshot).
     * @param votingPeriod_ Seconds the vote lasts.
     * @param voteExtension Seconds a vote stays open after its quorum or the veto is first reached
     * (at most `votingPeriod_`).
     * @param gracePeriod_ Seconds to queue a successful proposal and to execute a queued one.
     * @param vetoQuorum Initial Pepecoin veto quorum, PEPE wei.
     */
    constructor(
        address brainNFT_,
        address gigaBrains_,
        address pepecoin,
        TimelockController timelock_,
        address labsProposer_,
        uint48 votingDelay_,
        uint32 votingPeriod_,
        uint48 voteExtension,
        uint48 gracePeriod_,
        uint256 vetoQuorum
    ) Governor("GigaBrainGovernor") GovernorPreventLateQuorum(0) GovernorTimelockControl(timelock_) {
        if (
            brainNFT_ == address(0) ||
            gigaBrains_ == address(0) ||
            labsProposer_ == address(0) ||
            address(timelock_) == address(0)
        ) revert ZeroAddress();
        brainNFT = IERC721(brainNFT_);
        gigaBrains = GigaBrainSets(gigaBrains_);
        labsProposer = labsProposer_;
        genesis = uint48(block.timestamp);
        gracePeriod = gracePeriod_;
        _votingDelay = votingDelay_;
        _votingPeriod = votingPeriod_;
        // Set after `_votingPeriod`: the extension is bounded by the voting period.
        _setLateQuorumVoteExtension(voteExtension);
        pepecoinHouse = new PepecoinHouse(pepecoin, vetoQuorum);
    }

    // ─────────────────────────────────────────── Proposing ──────────────────────────────────────────

    /**
     * @notice Proposes in the optimistic period; only the Labs proposer may. After it, use
     * `proposeWithBrain`.
     * @inheritdoc Governor
     */
    function propose(
        address[] memory targets,
        uint256[] memory values,
        bytes[] memory calldatas,
        string memory description
    ) public override returns (uint256) {
        if (!_inOptimisticPeriod()) revert OptimisticPeriodOver(optimisticPeriodEnd());
        if (_msgSender() != labsProposer) revert NotLabsProposer(_msgSender());
        return super.propose(targets, values, calldatas, description);
    }

    /**
     * @notice Proposes after the optimistic period, as the owner of `brainId`, a GigaBrain of the set
     * in force now.
     * @param brainId The caller's GigaBrain.
     * @param targets Calls' targets (usually the timelock's own parameters, or GovernanceOutbox).
     * @param values Calls' ETH values.
     * @param calldatas Calls' data.
     * @param description The proposal's text (its hash is part of the id).
     * @return proposalId The new proposal's id.
     */
    function proposeWithBrain(
        uint256 brainId,
        address[] calldata targets,
        uint256[] calldata values,
        bytes[] calldata calldatas,
        string calldata description
    ) external returns (uint256 proposalId) {
        if (_inOptimisticPeriod()) revert OptimisticPeriodActive(optimisticPeriodEnd());
        if (!gigaBrains.isGigaBrain(brainId)) revert NotGigaBrain(brainId, clock());
        address owner = brainNFT.ownerOf(brainId);
        if (owner != _msgSender()) revert NotBrainOwner(brainId, _msgSender(), owner);
        proposalId = super.propose(targets, values, calldatas, description);
        emit ProposedWithBrain(proposalId, brainId, owner);
    }

    // ──────────────────────────────────────────── Voting ────────────────────────────────────────────

    /**
     * @notice Casts GigaBrain `brainId`'s vote on `proposalId`; the caller must own the Brain now,
     * and the Brain must be in the proposal's snapshot set and not have voted yet.
     * @param proposalId An Active proposal.
     * @param brainId The Brain voting.
     * @param support 0 Against, 1 For, 2 Abstain.
     * @return weight Always 1.
     */
    function castBrainVote(
        uint256 proposalId,
        uint256 brainId,
        uint8 support
    ) external returns (uint256 weight) {
        return _castVote(proposalId, _msgSender(), support, "", abi.encode(brainId));
    }

    /**
     * @notice Pepecoin house callback: its veto was reached for the first time on `proposalId`, so the
     * vote lasts at least `lateQuorumVoteExtension` more.
     * @param proposalId The proposal.
     */
    function extendForVeto(uint256 proposalId) external {
        if (msg.sender != address(pepecoinHouse)) revert NotPepecoinHouse(msg.sender);
        uint48 extended = clock() + lateQuorumVoteExtension();
        if (extended > proposalDeadline(proposalId)) emit ProposalExtended(proposalId, extended);
        _tallies[proposalId].vetoDeadline = extended;
    }

    // ───────────────────────────────────────────── Views ─────────────────────────────────────────────

    /// @notice End of the optimistic period (`genesis + OPTIMISTIC_PERIOD`).
    function optimisticPeriodEnd() public view returns (uint256) {
        return genesis + OPTIMISTIC_PERIOD;
    }

    /// @notice The GigaBrain tally of `proposalId` and whether it follows the optimistic rule.
    function proposalTally(uint256 proposalId) external view returns (Tally memory) {
        return _tallies[proposalId];
    }

    /// @notice Number of GigaBrains in the proposal's snapshot set (its electorate).
    function proposalElectorate(uint256 proposalId) public view returns (uint256) {
        return gigaBrains.sizeAt(proposalSnapshot(proposalId));
    }

    /// @notice Whether Brain `brainId` voted on `proposalId`.
    function hasBrainVoted(uint256 proposalId, uint256 brainId) external view returns (bool) {
        if (brainId >= 1024) return false;
        return (_brainVoted[proposalId][brainId >> 8] >> (brainId & 0xff)) & 1 == 1;
    }

    /// @notice Whether `account` cast at least one Brain's vote on `proposalId`.
    function hasVoted(uint256 proposalId, address account) external view returns (bool) {
        return _accountVoted[proposalId][account];
    }

    /// @notice Votes counted: Brain ids as `params`; quorum (GigaBrain regime) counts all three.
    // solhint-disable-next-line func-name-mixedcase
    function COUNTING_MODE() public pure returns (string memory) {
        return "support=bravo&quorum=for,abstain,against&params=brainId";
    }

    /// @notice Timestamps (ERC-6372): the optimistic period and the grace period are durations.
    function clock() public view override returns (uint48) {
        return uint48(block.timestamp);
    }

    /// @notice ERC-6372 clock mode.
    // solhint-disable-next-line func-name-mixedcase
    function CLOCK_MODE() public pure override returns (string memory) {
        return "mode=timestamp";
    }

    /// @notice Seconds from a proposal to its vote start.
    function votingDelay() public view override returns (uint256) {
        return _votingDelay;
    }

    /// @notice Seconds a vote lasts (before any extension).
    function votingPeriod() public view override returns (uint256) {
        return _votingPeriod;
    }

    /**
     * @notice GigaBrain-regime quorum at `timepoint`: a third (rounded up) of the GigaBrains then.
     * Optimistic proposals need no quorum.
     */
    function quorum(uint256 timepoint) public view override returns (uint256) {
        return Math.ceilDiv(gigaBrains.sizeAt(timepoint), 3);
    }

    /**
     * @notice The proposal's state; a Succeeded proposal not queued within `gracePeriod` after its
     * deadline, or a Queued one not executed within `gracePeriod` after its ETA, is Expired.
     * @inheritdoc Governor
     */
    function state(
        uint256 proposalId
    ) public view override(Governor, GovernorTimelockControl) returns (ProposalState) {
        ProposalState s = super.state(proposalId);
        if (s == ProposalState.Succeeded && clock() > proposalDeadline(proposalId) + gracePeriod) {
            return ProposalState.Expired;
        }
        if (s == ProposalState.Queued && clock() > proposalEta(proposalId) + gracePeriod) {
            return ProposalState.Expired;
        }
        return s;
    }

    /// @notice The deadline, extended by a late quorum or a late Pepecoin veto.
    /// @inheritdoc Governor
    function proposalDeadline(
        uint256 proposalId
    ) public view override(Governor, GovernorPreventLateQuorum) returns (uint256) {
        return Math.max(super.proposalDeadline(proposalId), _tallies[proposalId].vetoDeadline);
    }

    /// @inheritdoc Governor
    function proposalNeedsQueuing(
        uint256 proposalId
    ) public view override(Governor, GovernorTimelockControl) returns (bool) {
        return super.proposalNeedsQueuing(proposalId);
    }

    // ─────────────────────────────────────────── Internals ───────────────────────────────────────────

    function _inOptimisticPeriod() private view returns (bool) {
        return clock() < optimisticPeriodEnd();
    }

    /// @dev Records the regime the proposal follows for its whole life.
    function _propose(
        address[] memory targets,
        uint256[] memory values,
        bytes[] memory calldatas,
        string memory description,
        address proposer
    ) internal override returns (uint256 proposalId) {
        proposalId = super._propose(targets, values, calldatas, description, proposer);
        _tallies[proposalId].optimistic = _inOptimisticPeriod();
    }

    /// @dev The proposer may cancel until the vote ends (OpenZeppelin's default: only while Pending).
    function _validateCancel(uint256 proposalId, address caller) internal view override returns (bool) {
        ProposalState s = state(proposalId);
        return
            caller == proposalProposer(proposalId) &&
            (s == ProposalState.Pending || s == ProposalState.Active);
    }

    /**
     * @dev 1 if `account` owns the Brain named in `params` and it is in the set of `timepoint`; 0
     * without a Brain id. Reverts with the reason otherwise, so that a refused vote says why.
     */
    function _getVotes(
        address account,
        uint256 timepoint,
        bytes memory params
    ) internal view override returns (uint256) {
        if (params.length == 0) return 0;
        uint256 brainId = abi.decode(params, (uint256));
        if (!gigaBrains.isGigaBrainAt(brainId, timepoint)) revert NotGigaBrain(brainId, timepoint);
        address owner = brainNFT.ownerOf(brainId);
        if (owner != account) revert NotBrainOwner(brainId, account, owner);
        return 1;
    }

    /// @dev One vote per Brain per proposal, whoever owns it by then.
    function _countVote(
        uint256 proposalId,
        address account,
        uint8 support,
        uint256 /* totalWeight: 1, checked by _getVotes */,
        bytes memory params
    ) internal override returns (uint256) {
        if (params.length == 0) revert BrainIdRequired();
        uint256 brainId = abi.decode(params, (uint256));
        uint256 bit = 1 << (brainId & 0xff);
        // brainId < 1024: _getVotes found it in a set.
        uint256 word = _brainVoted[proposalId][brainId >> 8];
        if (word & bit != 0) revert BrainAlreadyVoted(proposalId, brainId);
        _brainVoted[proposalId][brainId >> 8] = word | bit;
        _accountVoted[proposalId][account] = true;

        Tally storage t = _tallies[proposalId];
        if (support == AGAINST) ++t.againstVotes;
        else if (support == FOR) ++t.forVotes;
        else if (support == ABSTAIN) ++t.abstainVotes;
        else revert GovernorInvalidVoteType();
        emit BrainVoteCast(proposalId, brainId, account, support);
        return 1;
    }

    /**
     * @dev Optimistic: no quorum. GigaBrain regime: For + Against + Abstain ≥ a third of the snapshot's
     * GigaBrains (exactly: 3 × votes ≥ electorate).
     */
    function _quorumReached(uint256 proposalId) internal view override returns (bool) {
        Tally memory t = _tallies[proposalId];
        if (t.optimistic) return true;
        uint256 votes = uint256(t.forVotes) + t.againstVotes + t.abstainVotes;
        return votes * 3 >= proposalElectorate(proposalId);
    }

    /**
     * @dev Never when the Pepecoin house vetoes. Optimistic: unless Against is more than half of the
     * snapshot's GigaBrains. GigaBrain regime: For > Against.
     */
    function _voteSucceeded(uint256 proposalId) internal view override returns (bool) {
        if (pepecoinHouse.vetoed(proposalId)) return false;
        Tally memory t = _tallies[proposalId];
        if (t.optimistic) return uint256(t.againstVotes) * 2 <= proposalElectorate(proposalId);
        return t.forVotes > t.againstVotes;
    }

    /**
     * @dev Late-quorum extension for GigaBrain-regime proposals. An optimistic proposal has no quorum
     * to reach, and its only deciding vote (Against passing half) cannot be undone by later votes.
     */
    function _tallyUpdated(uint256 proposalId) internal override(Governor, GovernorPreventLateQuorum) {
        if (!_tallies[proposalId].optimistic) super._tallyUpdated(proposalId);
    }

    function _queueOperations(
        uint256 proposalId,
        address[] memory targets,
        uint256[] memory values,
        bytes[] memory calldatas,
        bytes32 descriptionHash
    ) internal override(Governor, GovernorTimelockControl) returns (uint48) {
        return super._queueOperations(proposalId, targets, values, calldatas, descriptionHash);
    }

    function _executeOperations(
        uint256 proposalId,
        address[] memory targets,
        uint256[] memory values,
        bytes[] memory calldatas,
        bytes32 descriptionHash
    ) internal override(Governor, GovernorTimelockControl) {
        super._executeOperations(proposalId, targets, values, calldatas, descriptionHash);
    }

    function _cancel(
        address[] memory targets,
        uint256[] memory values,
        bytes[] memory calldatas,
        bytes32 descriptionHash
    ) internal override(Governor, GovernorTimelockControl) returns (uint256) {
        return super._cancel(targets, values, calldatas, descriptionHash);
    }

    function _executor() internal view override(Governor, GovernorTimelockControl) returns (address) {
        return super._executor();
    }
}
