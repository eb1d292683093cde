// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Arrays} from "@openzeppelin/contracts/utils/Arrays.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {BrainGenerations} from "./BrainGenerations.sol";
import {BrainRegistry} from "./BrainRegistry.sol";
import {Network} from "./Network.sol";

/**
 * @title Staking
 * @notice BASED staked to a Brain, or to a validator within a Brain (delegation), docs/architecture.md §3.
 * Unstaking moves the amount out of every total at once and into the staker's unbonding queue; it
 * can be withdrawn once `unbondingPeriod` has passed. Validators set a take (basis points of their
 * delegators' dividends, at most `MAX_TAKE`); the off-chain reward computation applies it.
 *
 * Reward rules read from here: a Brain's stake counts for rewards up to 0.5 % of the network's total
 * (`countedStake`); a Brain is a GigaBrain while its stake is at least 0.5 % (`isGigaBrain`); a
 * validator is active while its stake is at least the 70th percentile (nearest rank) of its Brain's
 * validator stakes (`activeValidatorThreshold`, a view for reads only: it sorts up to 256 stakes).
 *
 * Stake is kept per generation of a Brain id (BrainRegistry `generation`): when a freed id is minted
 * again the new Brain starts with no stake, and the old Brain's stakers unstake theirs with
 * `unstakeAt` (its generation). Every function taking only a `brainId` means its current generation.
 */
contract Staking is ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice A pending withdrawal.
    struct Unbonding {
        uint128 amount;
        uint64 releaseAt;
    }

    /// @notice Basis points.
    uint256 public constant BPS = 10_000;
    /// @notice The share of total stake up to which a Brain's stake counts, and from which it is a
    /// GigaBrain: 0.5 %.
    uint256 public constant BRAIN_CAP_BPS = 50;
    /// @notice Validators at or above this percentile of their Brain's validator stakes are active.
    uint256 public constant ACTIVE_PERCENTILE_BPS = 7_000;
    /// @notice The highest validator take: 18 % (subtensor's default take).
    uint16 public constant MAX_TAKE = 1_800;
    /// @notice The take of a validator that never set one.
    uint16 public constant DEFAULT_TAKE = 1_800;

    /// @notice BASED.
    IERC20 public immutable based;
    /// @notice The Brains' mirror (stake goes only to active Brains).
    BrainRegistry public immutable registry;
    /// @notice Membership (delegation goes only to a Brain's registered validators).
    Network public immutable network;
    /// @notice Seconds between an unstake and its withdrawal.
    uint64 public immutable unbondingPeriod;

    /// @notice All BASED staked on the network (not counting unbonding amounts).
    uint256 public totalStake;
    /// @dev Per-Brain state is keyed by `BrainGenerations.key(brainId, generation)`.
    mapping(uint256 brainKey => uint256) private _brainStake;
    mapping(uint256 brainKey => mapping(address validator => uint256)) private _validatorStake;
    mapping(uint256 brainKey => mapping(address validator => mapping(address staker => uint256)))
        private _stakes;
    /// @dev take + 1 (0: never set, i.e. `DEFAULT_TAKE`).
    mapping(uint256 brainKey => mapping(address validator => uint16)) private _takePlusOne;
    mapping(address staker => Unbonding[]) private _queue;
    mapping(address staker => uint256) private _queueHead;

    /// @notice Amounts must be positive (and an unbonding amount must fit 128 bits).
    error InvalidAmount(uint256 amount);
    /// @notice Brain `brainId` is not active on the mirror.
    error BrainNotActive(uint256 brainId);
    /// @notice `validator` is not a registered validator of Brain `brainId`.
    error NotAValidator(uint256 brainId, address validator);
    /// @notice The position holds `available`, less than `requested`.
    error InsufficientStake(uint256 available, uint256 requested);
    /// @notice Nothing is released yet; the next release is at `nextReleaseAt` (0: nothing queued).
    error NothingToWithdraw(uint64 nextReleaseAt);
    /// @notice A take above `MAX_TAKE`.
    error TakeTooHigh(uint16 take, uint16 max);
    /// @notice A required address was zero.
    error ZeroAddress();

    /// @notice `staker` staked `amount` to Brain `brainId` (through `validator`, or zero).
    event Staked(uint256 indexed brainId, address indexed validator, address indexed staker, uint256 amount);
    /// @notice `staker` unstaked `amount`; it can be withdrawn from `releaseAt`.
    event Unstaked(
        uint256 indexed brainId,
        address indexed validator,
        address indexed staker,
        uint256 amount,
        uint64 releaseAt
    );
    /// @notice `staker` withdrew `amount` of released unbondings.
    event Withdrawn(address indexed staker, uint256 amount);
    /// @notice `validator`'s take in Brain `brainId`, in basis points.
    event TakeSet(uint256 indexed brainId, address indexed validator, uint16 take);

    /**
     * @param based_ BASED.
     * @param registry_ The BrainRegistry.
     * @param network_ The Network.
     * @param unbondingPeriod_ Seconds an unstaked amount waits before it can be withdrawn.
     */
    constructor(IERC20 based_, BrainRegistry registry_, Network network_, uint64 unbondingPeriod_) {
        if (
            address(based_) == address(0) ||
            address(registry_) == address(0) ||
            address(network_) == address(0)
        ) {
            revert ZeroAddress();
        }
        based = based_;
        registry = registry_;
        network = network_;
        unbondingPeriod = unbondingPeriod_;
    }

    // ───────────────────────────────────────────── Views ─────────────────────────────────────────────

    /// @notice All stake in Brain `brainId` (to the Brain and to its validators).
    function brainStake(uint256 brainId) external view returns (uint256) {
        return _brainStake[_key(brainId)];
    }

    /// @notice Stake delegated to `validator` in Brain `brainId` (its own included).
    function validatorStake(uint256 brainId, address validator) external view returns (uint256) {
        return _validatorStake[_key(brainId)][validator];
    }

    /// @notice `staker`'s stake in Brain `brainId` through `validator` (zero: to the Brain itself).
    function stakeOf(uint256 brainId, address validator, address staker) external view returns (uint256) {
        return _stakes[_key(brainId)][validator][staker];
    }

    /// @notice `staker`'s stake in generation `generation` of Brain id `brainId` through `validator`.
    function stakeOfAt(
        uint256 brainId,
        uint64 generation,
        address validator,
        address staker
    ) external view returns (uint256) {
        return _stakes[BrainGenerations.key(brainId, generation)][validator][staker];
    }

    /// @notice `validator`'s take in Brain `brainId`, in basis points.
    function takeOf(uint256 brainId, address validator) external view returns (uint16) {
        uint16 plusOne = _takePlusOne[_key(brainId)][validator];
        return plusOne == 0 ? DEFAULT_TAKE : plusOne - 1;
    }

    /// @notice The stake of Brain `brainId` that counts for rewards: at most 0.5 % of the total.
    function countedStake(uint256 brainId) external view returns (uint256) {
        return Math.min(_brainStake[_key(brainId)], (totalStake * BRAIN_CAP_BPS) / BPS);
    }

    /// @notice Whether Brain `brainId` holds at least 0.5 % of all stake (exact: no rounding).
    function isGigaBrain(uint256 brainId) public view returns (bool) {
        uint256 staked = _brainStake[_key(brainId)];
        return staked != 0 && staked * BPS >= totalStake * BRAIN_CAP_BPS;
    }

    /**
     * @notice The 70th-percentile (nearest-rank) stake of Brain `brainId`'s registered validators:
     * sorted ascending, the value at index ⌈0.7·n⌉ − 1. Zero without validators. Reads only.
     */
    function activeValidatorThreshold(uint256 brainId) public view returns (uint256) {
        (, Network.Member[] memory validators) = network.membersOf(brainId, Network.Role.Validator);
        uint256 n = validators.length;
        if (n == 0) return 0;
        uint256[] memory stakes = new uint256[](n);
        uint256 k = _key(brainId);
        for (uint256 i = 0; i < n; ++i) stakes[i] = _validatorStake[k][validators[i].account];
        return nearestRank(stakes, ACTIVE_PERCENTILE_BPS);
    }

    /**
     * @notice Whether `validator` is a registered validator of Brain `brainId` with stake at or above
     * the threshold. A validator without stake is never active, even when the threshold is zero.
     */
    function isActiveValidator(uint256 brainId, address validator) external view returns (bool) {
        (Network.Role role, ) = network.roleOf(brainId, validator);
        if (role != Network.Role.Validator) return false;
        uint256 stake_ = _validatorStake[_key(brainId)][validator];
        return stake_ != 0 && stake_ >= activeValidatorThreshold(brainId);
    }

    /**
     * @notice The nearest-rank percentile of `values` (sorted in place): the value at index
     * ⌈p·n / 10,000⌉ − 1 of the ascending order. `values` must not be empty.
     */
    function nearestRank(uint256[] memory values, uint256 percentileBps) public pure returns (uint256) {
        Arrays.sort(values);
        uint256 index = Math.ceilDiv(values.length * percentileBps, BPS);
        return values[index == 0 ? 0 : index - 1];
    }

    /// @notice `staker`'s unbondings not yet withdrawn, oldest first.
    function unbondings(address staker) external view returns (Unbonding[] memory pending) {
        Unbonding[] storage q = _queue[staker];
        uint256 head = _queueHead[staker];
        pending = new Unbonding[](q.length - head);
        for (uint256 i = head; i < q.length; ++i) pending[i - head] = q[i];
    }

    // ──────────────────────────────────────────── Actions ────────────────────────────────────────────

    /**
     * @notice Stakes `amount` BASED (approved to this contract) to Brain `brainId`, through
     * `validator` if it is not zero (it must be a registered validator of the Brain).
     */
    function stake(uint256 brainId, address validator, uint256 amount) external nonReentrant {
        if (amount == 0) revert InvalidAmount(amount);
        if (!registry.isActive(brainId)) revert BrainNotActive(brainId);
        uint256 k = _key(brainId);
        if (validator != address(0)) {
            (Network.Role role, ) = network.roleOf(brainId, validator);
            if (role != Network.Role.Validator) revert NotAValidator(brainId, validator);
            _validatorStake[k][validator] += amount;
        }
        _stakes[k][validator][msg.sender] += amount;
        _brainStake[k] += amount;
        totalStake += amount;
        emit Staked(brainId, validator, msg.sender, amount);
        based.safeTransferFrom(msg.sender, address(this), amount);
    }

    /**
     * @notice Unstakes `amount` from the caller's position in Brain `brainId` through `validator`
     * (zero: the Brain itself). It stops counting now and can be withdrawn after `unbondingPeriod`.
     * Works whether or not the validator is still registered or the Brain still active.
     */
    function unstake(uint256 brainId, address validator, uint256 amount) external {
        _unstake(brainId, registry.generation(brainId), validator, amount);
    }

    /**
     * @notice `unstake` from generation `generation` of Brain id `brainId`: how the stakers of a
     * Brain whose id was freed and minted again take their stake back.
     */
    function unstakeAt(uint256 brainId, uint64 generation, address validator, uint256 amount) external {
        _unstake(brainId, generation, validator, amount);
    }

    /**
     * @notice Withdraws the caller's released unbondings, oldest first, at most `maxEntries` of them
     * (the queue is in release order because the period is fixed). `type(uint256).max` (or any count
     * at least the queue's length) withdraws everything released; nothing released reverts with
     * `NothingToWithdraw`.
     * @return amount BASED sent to the caller.
     */
    function withdraw(uint256 maxEntries) external nonReentrant returns (uint256 amount) {
        if (maxEntries == 0) revert InvalidAmount(0);
        Unbonding[] storage q = _queue[msg.sender];
        uint256 head = _queueHead[msg.sender];
        // Compared with the pending count, never added to `head`: `head + maxEntries` overflows
        // for a large `maxEntries` once entries were consumed.
        uint256 end = maxEntries < q.length - head ? head + maxEntries : q.length;
        uint256 i = head;
        for (; i < end && q[i].releaseAt <= block.timestamp; ++i) {
            amount += q[i].amount;
            delete q[i];
        }
        if (amount == 0) revert NothingToWithdraw(head < q.length ? q[head].releaseAt : 0);
        _queueHead[msg.sender] = i;
        emit Withdrawn(msg.sender, amount);
        based.safeTransfer(msg.sender, amount);
    }

    /// @notice Sets the caller's take as a validator of Brain `brainId` (basis points, ≤ `MAX_TAKE`).
    function setTake(uint256 brainId, uint16 take) external {
        if (take > MAX_TAKE) revert TakeTooHigh(take, MAX_TAKE);
        (Network.Role role, ) = network.roleOf(brainId, msg.sender);
        if (role != Network.Role.Validator) revert NotAValidator(brainId, msg.sender);
        _takePlusOne[_key(brainId)][msg.sender] = take + 1;
        emit TakeSet(brainId, msg.sender, take);
    }

    // ─────────────────────────────────────────── Internals ───────────────────────────────────────────

    /// @dev The storage key of Brain `brainId`'s current generation.
    function _key(uint256 brainId) private view returns (uint256) {
        return BrainGenerations.key(brainId, registry.generation(brainId));
    }

    function _unstake(uint256 brainId, uint64 generation, address validator, uint256 amount) private {
        if (amount == 0 || amount > type(uint128).max) revert InvalidAmount(amount);
        uint256 k = BrainGenerations.key(brainId, generation);
        uint256 available = _stakes[k][validator][msg.sender];
        if (available < amount) revert InsufficientStake(available, amount);
        _stakes[k][validator][msg.sender] = available - amount;
        if (validator != address(0)) _validatorStake[k][validator] -= amount;
        _brainStake[k] -= amount;
        totalStake -= amount;
        uint64 releaseAt = uint64(block.timestamp) + unbondingPeriod;
        _queue[msg.sender].push(Unbonding(uint128(amount), releaseAt));
        emit Unstaked(brainId, validator, msg.sender, amount, releaseAt);
    }
}
