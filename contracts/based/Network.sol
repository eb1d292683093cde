// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {BrainGenerations} from "./BrainGenerations.sol";
import {BrainRegistry} from "./BrainRegistry.sol";

/// @notice Where the attested pruning order comes from (the Consensus contract).
interface IPruningOrderSource {
    /**
     * @notice The pruning order of the latest epoch report that is not under challenge: the epoch
     * and the Merkle root of its `(brainId, role, rank, uid, account, registeredAt)` leaves (zero
     * root when there is none yet).
     */
    function pruningOrder() external view returns (uint64 epoch, bytes32 root);
}

/**
 * @title Network
 * @notice "Memorize" (docs/architecture.md §3): the miners and validators of each Brain. A Brain has one uid
 * space of 2,048 slots shared by at most 256 validators and 1,792 miners, as a subtensor subnet
 * shares uids between validators and servers. Registration pays the Brain's registration fee (as
 * it is at that moment) to the Brain's reward recipient; later fee changes do not touch members.
 *
 * When a role is full, a registrant replaces the member with the lowest pruning score that is past
 * its immunity period. The scores come from the off-chain Yuma epoch (issue 6); the attested epoch
 * report carries them as a Merkle root of the members in pruning order, lowest score first, ties
 * broken by older registration and then lower uid (docs/decisions.md). The registrant walks that
 * order from the first rank not yet consumed: a leaf whose member has since left is skipped, an
 * immune one is passed over (it stays in the order for later), and the first member past immunity is
 * replaced. Nothing here loops over a Brain's members in a transaction: the walk is as long as the
 * hints the caller pays for, and role checks read a 2,048-bit bitmap.
 */
contract Network is Ownable2Step, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice What a member does for its Brain.
    enum Role {
        None,
        Validator,
        Miner
    }

    /// @notice What a miner declares it runs on.
    enum Device {
        Cpu,
        Gpu
    }

    /**
     * @notice A member: one slot. `registeredAt` is the block of its registration (Yuma masks
     * weights set before it; pruning ties go to the older).
     */
    struct Member {
        address account;
        uint64 registeredAt;
        Role role;
    }

    /**
     * @notice One leaf of the attested pruning order, with its proof. `rank` 0 is the first to go.
     * `account` and `registeredAt` identify the membership the leaf was computed for: a leaf whose
     * uid has since been taken by someone else is stale.
     */
    struct PruneHint {
        uint16 rank;
        uint16 uid;
        address account;
        uint64 registeredAt;
        bytes32[] proof;
    }

    /// @notice What a registrant declares (events only; nodes read them to reach the member).
    struct Registration {
        Role role;
        string endpoint;
        Device device;
        uint32 storageGiB;
        uint256 maxFee;
    }

    /// @dev What a pruning-order leaf's member is now: gone, still immune, or replaceable.
    enum HintState {
        Stale,
        Immune,
        Prunable
    }

    /// @dev Per Brain: members per role and the pruning walk's first unconsumed rank per role, valid
    /// for the order identified by (epoch, first 16 bytes of its root): a new report or a revision of
    /// the same epoch starts both walks again.
    struct BrainCounts {
        uint16 validators;
        uint16 miners;
        uint16 pruneCursorValidators;
        uint16 pruneCursorMiners;
        uint64 pruneCursorEpoch;
        bytes16 pruneCursorRoot;
    }

    /// @notice Slots of a Brain's uid space.
    uint256 public constant MAX_UIDS = 2_048;
    /// @notice Validators per Brain.
    uint16 public constant MAX_VALIDATORS = 256;
    /// @notice Miners per Brain.
    uint16 public constant MAX_MINERS = 1_792;
    /// @notice Byte bound of an endpoint ("host:port" or a URL).
    uint256 public constant MAX_ENDPOINT_LENGTH = 128;
    /// @dev Words of a Brain's uid bitmaps.
    uint256 private constant WORDS = MAX_UIDS / 256;

    /// @notice BASED, in which registration fees are paid.
    IERC20 public immutable based;
    /// @notice The mirror of the Brains and their owners' configuration.
    BrainRegistry public immutable registry;
    /// @notice The source of the attested pruning order (Consensus); set once by the owner.
    IPruningOrderSource public pruningOrderSource;
    /// @notice Blocks after registration during which a member cannot be replaced.
    uint64 public immunityPeriod;

    /// @dev Per-Brain state is keyed by `BrainGenerations.key(brainId, generation)` (`bk`): a freed id
    /// minted again (BrainRegistry `generation`) starts with no members.
    mapping(uint256 brainKey => mapping(uint256 uid => Member)) private _members;
    /// @dev uid + 1 of an account in a Brain (0: not a member).
    mapping(uint256 brainKey => mapping(address account => uint16)) private _uidPlusOne;
    mapping(uint256 brainKey => uint256[WORDS]) private _validatorBits;
    mapping(uint256 brainKey => uint256[WORDS]) private _minerBits;
    mapping(uint256 brainKey => BrainCounts) private _counts;
    mapping(uint256 brainKey => mapping(uint256 uid => uint64)) private _lastRemovedAt;

    /// @notice Brain `brainId` is not active on this chain's mirror (deactivated or never mirrored).
    error BrainNotActive(uint256 brainId);
    /// @notice The role must be Validator or Miner.
    error InvalidRole();
    /// @notice `account` already holds uid `uid` in Brain `brainId`.
    error AlreadyRegistered(uint256 brainId, address account, uint16 uid);
    /// @notice `account` is not a member of Brain `brainId`.
    error NotRegistered(uint256 brainId, address account);
    /// @notice The endpoint is empty or longer than `max` bytes.
    error InvalidEndpoint(uint256 length, uint256 max);
    /// @notice The Brain's fee `fee` is above the registrant's `maxFee`.
    error FeeAboveMax(uint256 fee, uint256 maxFee);
    /// @notice The role is full and there is no attested pruning order yet (or it is challenged).
    error NoPruningOrder(uint256 brainId, Role role);
    /// @notice The hints must start at rank `expected` and go up one by one.
    error WrongPruneRank(uint256 index, uint16 rank, uint16 expected);
    /// @notice Hint `index` is not a leaf of the attested pruning order.
    error InvalidPruneProof(uint256 index);
    /// @notice Every member named by the hints (from rank `from`) is immune or gone: pass more hints,
    /// or wait for immunity to end.
    error NoPrunableMember(uint256 brainId, Role role, uint16 from);
    /// @notice The pruning-order source was already set.
    error PruningOrderSourceSet();
    /// @notice A required address was zero.
    error ZeroAddress();

    /// @notice `account` holds uid `uid` of Brain `brainId` as `role`, having paid `fee`.
    event MemberRegistered(
        uint256 indexed brainId,
        uint16 indexed uid,
        address indexed account,
        Role role,
        string endpoint,
        Device device,
        uint32 storageGiB,
        uint256 fee
    );
    /// @notice `account` left uid `uid` of Brain `brainId` (itself, or replaced when `pruned`).
    event MemberRemoved(uint256 indexed brainId, uint16 indexed uid, address indexed account, bool pruned);
    /// @notice Members registered from now on are immune for `blocks` blocks.
    event ImmunityPeriodSet(uint64 blocks);
    /// @notice The pruning order is read from `source`.
    event PruningOrderSourceBound(address source);

    /**
     * @param based_ The BASED token.
     * @param registry_ The BrainRegistry.
     * @param immunityPeriod_ Blocks of immunity after registration.
     * @param owner_ Governance: sets the immunity period and binds the pruning-order source.
     */
    constructor(
        IERC20 based_,
        BrainRegistry registry_,
        uint64 immunityPeriod_,
        address owner_
    ) Ownable(owner_) {
        if (address(based_) == address(0) || address(registry_) == address(0)) revert ZeroAddress();
        based = based_;
        registry = registry_;
        immunityPeriod = immunityPeriod_;
        emit ImmunityPeriodSet(immunityPeriod_);
    }

    // ───────────────────────────────────────────── Views ─────────────────────────────────────────────

    /// @notice The member at uid `uid` of Brain `brainId` (all zero if the slot is free).
    function member(uint256 brainId, uint16 uid) external view returns (Member memory) {
        uint256 bk = _key(brainId);
        return _members[bk][uid];
    }

    /// @notice `account`'s role and uid in Brain `brainId` (`Role.None` if not a member).
    function roleOf(uint256 brainId, address account) external view returns (Role role, uint16 uid) {
        uint256 bk = _key(brainId);
        uint16 plusOne = _uidPlusOne[bk][account];
        if (plusOne == 0) return (Role.None, 0);
        uid = plusOne - 1;
        role = _members[bk][uid].role;
    }

    /// @notice The block in which uid `uid` of Brain `brainId` last lost its member (0: never).
    function lastRemovedAt(uint256 brainId, uint16 uid) external view returns (uint64) {
        uint256 bk = _key(brainId);
        return _lastRemovedAt[bk][uid];
    }

    /// @notice Members of Brain `brainId` per role.
    function counts(uint256 brainId) external view returns (uint16 validators, uint16 miners) {
        uint256 bk = _key(brainId);
        BrainCounts storage c = _counts[bk];
        return (c.validators, c.miners);
    }

    /// @notice The bitmap of Brain `brainId`'s miner uids (bit `uid % 256` of word `uid / 256`).
    function minerBitmap(uint256 brainId) external view returns (uint256[WORDS] memory) {
        uint256 bk = _key(brainId);
        return _minerBits[bk];
    }

    /// @notice The bitmap of Brain `brainId`'s validator uids.
    function validatorBitmap(uint256 brainId) external view returns (uint256[WORDS] memory) {
        uint256 bk = _key(brainId);
        return _validatorBits[bk];
    }

    /**
     * @notice Every member of Brain `brainId` with role `role`, by ascending uid. For reads (eth_call)
     * only: it walks up to 2,048 slots.
     */
    function membersOf(
        uint256 brainId,
        Role role
    ) external view returns (uint16[] memory uids, Member[] memory list) {
        uint256 bk = _key(brainId);
        BrainCounts storage c = _counts[bk];
        uint256 n =
            role == Role.Validator
                ? c.validators
                : role == Role.Miner
                    ? c.miners
                    : 0;
        uids = new uint16[](n);
        list = new Member[](n);
        uint256[WORDS] storage bits = role == Role.Validator ? _validatorBits[bk] : _minerBits[bk];
        uint256 k = 0;
        for (uint256 w = 0; w < WORDS && k < n; ++w) {
            uint256 word = bits[w];
            while (word != 0) {
                uint256 uid = w * 256 + Math.log2(word & (~word + 1));
                uids[k] = uint16(uid);
                list[k] = _members[bk][uid];
                ++k;
                word &= word - 1;
            }
        }
    }

    /**
     * @notice The Merkle leaf of one entry of the pruning order, as OpenZeppelin merkle-tree's
     * StandardMerkleTree builds it for the types `[uint16, uint8, uint16, uint16, address, uint64]`.
     */
    function pruneLeaf(
        uint256 brainId,
        Role role,
        uint16 rank,
        uint16 uid,
        address account,
        uint64 registeredAt
    ) public pure returns (bytes32) {
        return
            keccak256(
                bytes.concat(
                    keccak256(abi.encode(uint16(brainId), uint8(role), rank, uid, account, registeredAt))
                )
            );
    }

    // ──────────────────────────────────────────── Members ────────────────────────────────────────────

    /**
     * @notice Registers the caller in Brain `brainId` ("memorize"). Pays the Brain's current fee (at
     * most `r.maxFee`, approved to this contract) to the Brain's reward recipient. When the role is
     * full, `hints` must walk the attested pruning order from its first unconsumed rank (see
     * `pruneCursor`) up to a member past immunity, who is replaced; otherwise pass no hints.
     * @return uid The caller's uid.
     */
    function register(
        uint256 brainId,
        Registration calldata r,
        PruneHint[] calldata hints
    ) external nonReentrant returns (uint16 uid) {
        uint256 bk = _key(brainId);
        uint256 fee = _checkRegistration(brainId, bk, r);
        uid = _admit(brainId, bk, r.role, hints);
        emit MemberRegistered(brainId, uid, msg.sender, r.role, r.endpoint, r.device, r.storageGiB, fee);
        if (fee != 0) based.safeTransferFrom(msg.sender, registry.rewardRecipient(brainId), fee);
    }

    /// @notice The caller leaves Brain `brainId`; its uid is free again. Stake is not touched.
    function deregister(uint256 brainId) external {
        uint256 bk = _key(brainId);
        uint16 plusOne = _uidPlusOne[bk][msg.sender];
        if (plusOne == 0) revert NotRegistered(brainId, msg.sender);
        uint16 uid = plusOne - 1;
        Role role = _members[bk][uid].role;
        BrainCounts storage c = _counts[bk];
        if (role == Role.Validator) --c.validators;
        else --c.miners;
        _remove(brainId, uid, role, msg.sender, false);
    }

    /**
     * @notice The first rank of Brain `brainId`'s pruning order for `role` that a registrant's hints
     * must start at, and the epoch of that order.
     */
    function pruneCursor(uint256 brainId, Role role) external view returns (uint64 epoch, uint16 rank) {
        uint256 bk = _key(brainId);
        bytes32 root;
        (epoch, root) = address(pruningOrderSource) == address(0)
            ? (uint64(0), bytes32(0))
            : pruningOrderSource.pruningOrder();
        BrainCounts storage c = _counts[bk];
        if (!_cursorValid(c, epoch, root)) return (epoch, 0);
        rank = role == Role.Validator ? c.pruneCursorValidators : c.pruneCursorMiners;
    }

    // ─────────────────────────────────────────── Governance ──────────────────────────────────────────

    /// @notice Sets the immunity period in blocks. It applies to current members too: immunity is
    /// checked against each member's registration block when it would be replaced.
    function setImmunityPeriod(uint64 blocks) external onlyOwner {
        immunityPeriod = blocks;
        emit ImmunityPeriodSet(blocks);
    }

    /// @notice Binds the Consensus contract as the source of the pruning order. Once.
    function bindPruningOrderSource(IPruningOrderSource source) external onlyOwner {
        if (address(source) == address(0)) revert ZeroAddress();
        if (address(pruningOrderSource) != address(0)) revert PruningOrderSourceSet();
        pruningOrderSource = source;
        emit PruningOrderSourceBound(address(source));
    }

    // ─────────────────────────────────────────── Internals ───────────────────────────────────────────

    /// @dev Refuses a registration that breaks a rule; returns the fee it pays.
    function _checkRegistration(
        uint256 brainId,
        uint256 bk,
        Registration calldata r
    ) private view returns (uint256 fee) {
        if (r.role != Role.Validator && r.role != Role.Miner) revert InvalidRole();
        uint256 endpointLength = bytes(r.endpoint).length;
        if (endpointLength == 0 || endpointLength > MAX_ENDPOINT_LENGTH) {
            revert InvalidEndpoint(endpointLength, MAX_ENDPOINT_LENGTH);
        }
        if (!registry.isActive(brainId)) revert BrainNotActive(brainId);
        uint16 existing = _uidPlusOne[bk][msg.sender];
        if (existing != 0) revert AlreadyRegistered(brainId, msg.sender, existing - 1);
        fee = registry.registrationFee(brainId);
        if (fee > r.maxFee) revert FeeAboveMax(fee, r.maxFee);
    }

    /// @dev Gives the caller a uid for `role`: a free one, or a pruned member's when the role is full.
    function _admit(
        uint256 brainId,
        uint256 bk,
        Role role,
        PruneHint[] calldata hints
    ) private returns (uint16 uid) {
        BrainCounts storage c = _counts[bk];
        bool full = role == Role.Validator ? c.validators >= MAX_VALIDATORS : c.miners >= MAX_MINERS;
        if (full) {
            uid = _prune(brainId, role, hints);
        } else {
            uid = _lowestFreeUid(bk);
            if (role == Role.Validator) ++c.validators;
            else ++c.miners;
        }
        _members[bk][uid] = Member(msg.sender, uint64(block.number), role);
        _uidPlusOne[bk][msg.sender] = uid + 1;
        _setBit(role == Role.Validator ? _validatorBits[bk] : _minerBits[bk], uid, true);
    }

    /**
     * @dev Walks `hints` along the attested pruning order and frees the uid of the first member
     * past immunity. Ranks before it whose members are gone (stale leaves) are consumed for good;
     * immune members are not, so they come first again once their immunity ends.
     */
    function _prune(uint256 brainId, Role role, PruneHint[] calldata hints) private returns (uint16) {
        (uint64 epoch, bytes32 root) = address(pruningOrderSource) == address(0)
            ? (uint64(0), bytes32(0))
            : pruningOrderSource.pruningOrder();
        if (root == bytes32(0)) revert NoPruningOrder(brainId, role);
        BrainCounts storage c = _counts[_key(brainId)];
        if (!_cursorValid(c, epoch, root)) {
            (c.pruneCursorEpoch, c.pruneCursorRoot) = (epoch, bytes16(root));
            (c.pruneCursorValidators, c.pruneCursorMiners) = (0, 0);
        }
        uint16 cursor = role == Role.Validator ? c.pruneCursorValidators : c.pruneCursorMiners;
        uint16 expected = cursor;
        bool prefixConsumed = true;
        for (uint256 i = 0; i < hints.length; ++i) {
            PruneHint calldata h = hints[i];
            if (h.rank != expected) revert WrongPruneRank(i, h.rank, expected);
            ++expected;
            HintState state = _hintState(brainId, role, root, h, i);
            if (state == HintState.Immune) {
                prefixConsumed = false;
                continue;
            }
            if (prefixConsumed) cursor = expected;
            if (state == HintState.Stale) continue;
            if (role == Role.Validator) c.pruneCursorValidators = cursor;
            else c.pruneCursorMiners = cursor;
            _remove(brainId, h.uid, role, h.account, true);
            return h.uid;
        }
        revert NoPrunableMember(brainId, role, cursor);
    }

    /// @dev Checks hint `index` against the attested root and says what its member is now.
    function _hintState(
        uint256 brainId,
        Role role,
        bytes32 root,
        PruneHint calldata h,
        uint256 index
    ) private view returns (HintState) {
        bytes32 leaf = pruneLeaf(brainId, role, h.rank, h.uid, h.account, h.registeredAt);
        if (!MerkleProof.verifyCalldata(h.proof, root, leaf)) revert InvalidPruneProof(index);
        Member storage m = _members[_key(brainId)][h.uid];
        if (m.account != h.account || m.registeredAt != h.registeredAt || m.role != role)
            return HintState.Stale;
        if (block.number < uint256(m.registeredAt) + immunityPeriod) return HintState.Immune;
        return HintState.Prunable;
    }

    /// @dev The storage key of Brain `brainId`'s current generation.
    function _key(uint256 brainId) private view returns (uint256) {
        return BrainGenerations.key(brainId, registry.generation(brainId));
    }

    function _cursorValid(BrainCounts storage c, uint64 epoch, bytes32 root) private view returns (bool) {
        return c.pruneCursorEpoch == epoch && c.pruneCursorRoot == bytes16(root);
    }

    function _remove(uint256 brainId, uint16 uid, Role role, address account, bool pruned) private {
        uint256 bk = _key(brainId);
        delete _members[bk][uid];
        _lastRemovedAt[bk][uid] = uint64(block.number);
        delete _uidPlusOne[bk][account];
        _setBit(role == Role.Validator ? _validatorBits[bk] : _minerBits[bk], uid, false);
        emit MemberRemoved(brainId, uid, account, pruned);
    }

    /// @dev The lowest uid held by neither role. There is always one: the caps sum to `MAX_UIDS`.
    function _lowestFreeUid(uint256 bk) private view returns (uint16) {
        uint256[WORDS] storage v = _validatorBits[bk];
        uint256[WORDS] storage m = _minerBits[bk];
        uint256 w = 0;
        uint256 taken = v[0] | m[0];
        while (taken == type(uint256).max) {
            ++w;
            taken = v[w] | m[w];
        }
        // ~taken & (taken + 1) isolates the lowest zero bit.
        return uint16(w * 256 + Math.log2(~taken & (taken + 1)));
    }

    function _setBit(uint256[WORDS] storage bits, uint256 uid, bool value) private {
        uint256 mask = 1 << (uid % 256);
        if (value) bits[uid / 256] |= mask;
        else bits[uid / 256] &= ~mask;
    }
}
