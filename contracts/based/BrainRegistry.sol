// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {MessageHandler} from "../messaging/MessageHandler.sol";
import {Message, Messages} from "../messaging/Messages.sol";

/**
 * @title BrainRegistry
 * @notice The BasedAI chain's mirror of the Brains of BrainNFT on Ethereum (docs/architecture.md §3). Each
 * BRAIN_EVENT message carries a Brain's full state right after an event; a snapshot is applied
 * only if its nonce (source block and log index) is newer than the last one applied to that Brain,
 * so delivery order does not matter and an older snapshot is a harmless no-op. Beside the mirror it
 * holds the Brain owner's configuration (task, ZK mode, emission split, profile, registration fee,
 * pricing), settable only by the Brain's mirrored BasedAI wallet while the Brain is active, and reset
 * to a fresh Brain's when the mirrored owner or wallet changes (a sale, a new linked wallet, a freed
 * id minted again: `configEpoch`). A freed id minted again also starts a new `generation`.
 */
contract BrainRegistry is MessageHandler {
    /// @notice BrainNFT.BrainClass values (uint8 so an unexpected value cannot make a message fail).
    uint8 public constant CLASS_NONE = 0;
    uint8 public constant CLASS_RESERVED = 1;
    uint8 public constant CLASS_BURN = 2;
    uint8 public constant CLASS_STAKE = 3;

    /**
     * @notice A mirrored Brain. Two slots:
     *  slot 0: [owner:160][class:8][unlockAt:64][active:8]
     *  slot 1: [basedWallet:160][lastNonce:64]
     * @param owner The NFT owner on Ethereum (zero after a deactivation).
     * @param class BrainNFT.BrainClass: 1 reserved, 2 burn, 3 stake.
     * @param unlockAt Stake Brains: when the lock ends and the Brain starts earning. Zero otherwise.
     * @param active False once the stake Brain was deactivated (or never mirrored).
     * @param basedWallet The Brain's wallet on this chain (linked on Ethereum; the owner by default).
     * @param lastNonce Nonce of the snapshot applied last.
     */
    struct Brain {
        address owner;
        uint8 class;
        uint64 unlockAt;
        bool active;
        address basedWallet;
        uint64 lastNonce;
    }

    /**
     * @notice What a Brain's nodes run: the model, its content hash, the prompt template and the
     * source (repository and commit) for the audit.
     */
    struct Task {
        string modelUri;
        bytes32 contentHash;
        uint16 templateId;
        string sourceRepo;
        string sourceCommit;
    }

    /**
     * @dev The owner's configuration of a Brain, kept apart from the mirrored state. Zero values mean
     * the defaults: `zkOff` false = ZK on; an all-zero split = 2500/3750/3750; `feeSet` false = 100
     * BASED; a zero `rewardAddress` = the Brain's wallet.
     */
    struct BrainConfig {
        Task task;
        Task pendingTask;
        address rewardAddress;
        uint64 taskEffectiveAt;
        bool zkOff;
        bool feeSet;
        uint16 ownerBps;
        uint128 promptPricePer1k;
        uint128 completionPricePer1k;
        uint16 minersBps;
        uint16 validatorsBps;
        uint32 contextLimit;
        uint256 registrationFee;
        string name;
        string ensName;
    }

    /// @notice Notice period of a task change, in seconds: nodes have this long to restart.
    uint64 public constant TASK_NOTICE = 1 days;
    /// @notice The emission split's total, in basis points.
    uint16 public constant BPS = 10_000;
    /// @notice The default split: owner 25 %, miners 37.5 %, validators 37.5 %.
    uint16 public constant DEFAULT_OWNER_BPS = 2_500;
    uint16 public constant DEFAULT_MINERS_BPS = 3_750;
    uint16 public constant DEFAULT_VALIDATORS_BPS = 3_750;
    /// @notice The default registration fee: 100 BASED.
    uint256 public constant DEFAULT_REGISTRATION_FEE = 100 ether;
    /// @notice Byte-length bounds of the configuration's strings (against storage griefing).
    uint256 public constant MAX_URI_LENGTH = 256;
    uint256 public constant MAX_COMMIT_LENGTH = 64;
    uint256 public constant MAX_NAME_LENGTH = 64;
    uint256 public constant MAX_ENS_NAME_LENGTH = 128;

    /**
     * @dev Counters of a Brain id. `config` goes up each time the configuration is reset (the
     * mirrored owner or wallet changed, or the id holds a new Brain); `generation` each time the id
     * holds a new Brain (a freed id minted again). Network and Staking key their state by generation.
     */
    struct Epochs {
        uint64 config;
        uint64 generation;
    }

    mapping(uint256 brainId => Brain) private _brains;
    /// @dev Keyed by `configEpoch` as well: a reset moves to a fresh, empty configuration in O(1).
    mapping(uint256 brainId => mapping(uint64 configEpoch => BrainConfig)) private _configs;
    mapping(uint256 brainId => Epochs) private _epochs;

    /// @notice The caller is not the mirrored BasedAI wallet of Brain `brainId`.
    error NotBrainWallet(uint256 brainId, address caller);
    /// @notice Brain `brainId` is not active (deactivated or never mirrored).
    error BrainNotActive(uint256 brainId);
    /// @notice The split's basis points sum to `sum`, not 10,000.
    error InvalidSplit(uint256 sum);
    /// @notice A string of `length` bytes exceeds its bound `max`.
    error StringTooLong(uint256 length, uint256 max);
    /// @notice The context limit must be positive.
    error InvalidContextLimit();

    /// @notice The mirror of Brain `brainId` now holds this state (from the message with `nonce`).
    event BrainMirrored(
        uint256 indexed brainId,
        address indexed owner,
        uint8 class,
        uint64 unlockAt,
        address basedWallet,
        bool active,
        uint64 nonce
    );
    /// @notice Brain `brainId`'s owner configuration was reset to a fresh Brain's (new `configEpoch`).
    event ConfigReset(uint256 indexed brainId, uint64 configEpoch);
    /// @notice Id `brainId` holds a new Brain (a freed id minted again): stake and members start empty.
    event GenerationStarted(uint256 indexed brainId, uint64 generation);
    /// @notice A snapshot older than (or as old as) the applied one arrived late and was ignored.
    event BrainSnapshotIgnored(uint256 indexed brainId, uint64 nonce, uint64 lastNonce);
    /// @notice Brain `brainId`'s nodes run this task from `effectiveAt` on (replacing any pending one).
    event TaskChangeScheduled(
        uint256 indexed brainId,
        string modelUri,
        bytes32 contentHash,
        uint16 templateId,
        string sourceRepo,
        string sourceCommit,
        uint64 effectiveAt
    );
    /// @notice Brain `brainId`'s miners run ZK-LLM inference (`enabled`) or plain inference.
    event ZkModeSet(uint256 indexed brainId, bool enabled);
    /// @notice Brain `brainId`'s emission split, in basis points.
    event SplitSet(uint256 indexed brainId, uint16 ownerBps, uint16 minersBps, uint16 validatorsBps);
    /// @notice Brain `brainId`'s profile (a zero `rewardAddress` means the Brain's wallet).
    event ProfileSet(uint256 indexed brainId, string name, string ensName, address rewardAddress);
    /// @notice Brain `brainId`'s registration fee for later registrants.
    event RegistrationFeeSet(uint256 indexed brainId, uint256 fee);
    /// @notice Brain `brainId`'s prices (BASED per 1,000 compute units) and context limit.
    event PricingSet(
        uint256 indexed brainId,
        uint128 promptPricePer1k,
        uint128 completionPricePer1k,
        uint32 contextLimit
    );

    /// @dev Only the mirrored BasedAI wallet of an active Brain.
    modifier onlyBrainWallet(uint256 brainId) {
        _checkBrainWallet(brainId);
        _;
    }

    /**
     * @param inbox_ The BasedAI chain's MessageInbox.
     * @param ethereumChainId The Ethereum chain id (where BrainNFT lives).
     */
    constructor(
        address inbox_,
        uint64 ethereumChainId
    ) MessageHandler(inbox_, ethereumChainId, Messages.BRAIN_EVENT) {}

    // ───────────────────────────────────────────── Views ─────────────────────────────────────────────

    /// @notice The mirrored state of Brain `brainId` (all zero if never mirrored).
    function brain(uint256 brainId) external view returns (Brain memory) {
        return _brains[brainId];
    }

    /// @notice Whether Brain `brainId` exists on Ethereum (as of the last snapshot applied).
    function isActive(uint256 brainId) external view returns (bool) {
        return _brains[brainId].active;
    }

    /**
     * @notice How many times Brain `brainId`'s owner configuration was reset: a change of the
     * mirrored owner or BasedAI wallet, or a new Brain on the id. Settings kept elsewhere (the
     * ComputeMarket gateway) hold only while this is unchanged.
     */
    function configEpoch(uint256 brainId) external view returns (uint64) {
        return _epochs[brainId].config;
    }

    /**
     * @notice The generation of id `brainId`: 0 for its first Brain, one more each time a freed id
     * is minted again. Network and Staking keep each generation's members and stake apart.
     */
    function generation(uint256 brainId) external view returns (uint64) {
        return _epochs[brainId].generation;
    }

    /**
     * @notice Whether Brain `brainId` earns BASED at `timestamp`: it is active and, if it is a stake
     * Brain, its lock has ended (`timestamp ≥ unlockAt`).
     */
    function earnsRewards(uint256 brainId, uint256 timestamp) external view returns (bool) {
        Brain storage b = _brains[brainId];
        return b.active && (b.class != CLASS_STAKE || timestamp >= b.unlockAt);
    }

    /**
     * @notice The task Brain `brainId`'s nodes run now: the pending task once its notice period has
     * passed, else the previous one (all zero if none yet).
     */
    function task(uint256 brainId) external view returns (Task memory) {
        BrainConfig storage c = _config(brainId);
        return _pendingDue(c) ? c.pendingTask : c.task;
    }

    /**
     * @notice The task change of Brain `brainId` still in its notice period, and when it takes effect
     * (all zero if none is pending).
     */
    function pendingTask(uint256 brainId) external view returns (Task memory pending, uint64 effectiveAt) {
        BrainConfig storage c = _config(brainId);
        if (c.taskEffectiveAt != 0 && !_pendingDue(c)) return (c.pendingTask, c.taskEffectiveAt);
        return (pending, 0);
    }

    /// @notice Whether Brain `brainId`'s miners run ZK-LLM inference (on by default).
    function zkMode(uint256 brainId) external view returns (bool) {
        return !_config(brainId).zkOff;
    }

    /// @notice Brain `brainId`'s emission split in basis points (2500/3750/3750 unless set).
    function split(
        uint256 brainId
    ) external view returns (uint16 ownerBps, uint16 minersBps, uint16 validatorsBps) {
        BrainConfig storage c = _config(brainId);
        if (c.ownerBps == 0 && c.minersBps == 0 && c.validatorsBps == 0) {
            return (DEFAULT_OWNER_BPS, DEFAULT_MINERS_BPS, DEFAULT_VALIDATORS_BPS);
        }
        return (c.ownerBps, c.minersBps, c.validatorsBps);
    }

    /// @notice Brain `brainId`'s profile as set (`rewardAddress` zero means the Brain's wallet).
    function profile(
        uint256 brainId
    ) external view returns (string memory name, string memory ensName, address rewardAddress) {
        BrainConfig storage c = _config(brainId);
        return (c.name, c.ensName, c.rewardAddress);
    }

    /// @notice Where Brain `brainId`'s owner rewards go: the reward address, or the Brain's wallet.
    function rewardRecipient(uint256 brainId) external view returns (address) {
        address set = _config(brainId).rewardAddress;
        return set != address(0) ? set : _brains[brainId].basedWallet;
    }

    /// @notice Brain `brainId`'s registration fee for new registrants (100 BASED unless set).
    function registrationFee(uint256 brainId) external view returns (uint256) {
        BrainConfig storage c = _config(brainId);
        return c.feeSet ? c.registrationFee : DEFAULT_REGISTRATION_FEE;
    }

    /// @notice Brain `brainId`'s prices (BASED per 1,000 compute units) and context limit (0 if unset).
    function pricing(
        uint256 brainId
    ) external view returns (uint128 promptPricePer1k, uint128 completionPricePer1k, uint32 contextLimit) {
        BrainConfig storage c = _config(brainId);
        return (c.promptPricePer1k, c.completionPricePer1k, c.contextLimit);
    }

    // ──────────────────────────────────────── Owner configuration ────────────────────────────────────────

    /**
     * @notice Schedules Brain `brainId`'s task; it takes effect `TASK_NOTICE` seconds from now and
     * replaces a change still pending. Only the Brain's wallet, while the Brain is active.
     * @param modelUri Where the model is (at most `MAX_URI_LENGTH` bytes).
     * @param contentHash The model's content hash.
     * @param templateId The prompt template.
     * @param sourceRepo The source repository for the audit (at most `MAX_URI_LENGTH` bytes).
     * @param sourceCommit The source commit (at most `MAX_COMMIT_LENGTH` bytes).
     */
    function setTask(
        uint256 brainId,
        string calldata modelUri,
        bytes32 contentHash,
        uint16 templateId,
        string calldata sourceRepo,
        string calldata sourceCommit
    ) external onlyBrainWallet(brainId) {
        _checkLength(modelUri, MAX_URI_LENGTH);
        _checkLength(sourceRepo, MAX_URI_LENGTH);
        _checkLength(sourceCommit, MAX_COMMIT_LENGTH);
        BrainConfig storage c = _config(brainId);
        if (_pendingDue(c)) c.task = c.pendingTask;
        uint64 effectiveAt = uint64(block.timestamp) + TASK_NOTICE;
        c.pendingTask = Task(modelUri, contentHash, templateId, sourceRepo, sourceCommit);
        c.taskEffectiveAt = effectiveAt;
        emit TaskChangeScheduled(
            brainId,
            modelUri,
            contentHash,
            templateId,
            sourceRepo,
            sourceCommit,
            effectiveAt
        );
    }

    /// @notice Turns ZK-LLM inference on or off for Brain `brainId`. Only the Brain's wallet.
    function setZkMode(uint256 brainId, bool enabled) external onlyBrainWallet(brainId) {
        _config(brainId).zkOff = !enabled;
        emit ZkModeSet(brainId, enabled);
    }

    /**
     * @notice Sets Brain `brainId`'s emission split; the three must sum to 10,000 basis points.
     * Only the Brain's wallet.
     */
    function setSplit(
        uint256 brainId,
        uint16 ownerBps,
        uint16 minersBps,
        uint16 validatorsBps
    ) external onlyBrainWallet(brainId) {
        uint256 sum = uint256(ownerBps) + minersBps + validatorsBps;
        if (sum != BPS) revert InvalidSplit(sum);
        BrainConfig storage c = _config(brainId);
        (c.ownerBps, c.minersBps, c.validatorsBps) = (ownerBps, minersBps, validatorsBps);
        emit SplitSet(brainId, ownerBps, minersBps, validatorsBps);
    }

    /**
     * @notice Sets Brain `brainId`'s name, ENS/BNS name and reward address (zero = the Brain's
     * wallet). Only the Brain's wallet.
     * @param name At most `MAX_NAME_LENGTH` bytes.
     * @param ensName At most `MAX_ENS_NAME_LENGTH` bytes.
     */
    function setProfile(
        uint256 brainId,
        string calldata name,
        string calldata ensName,
        address rewardAddress
    ) external onlyBrainWallet(brainId) {
        _checkLength(name, MAX_NAME_LENGTH);
        _checkLength(ensName, MAX_ENS_NAME_LENGTH);
        BrainConfig storage c = _config(brainId);
        c.name = name;
        c.ensName = ensName;
        c.rewardAddress = rewardAddress;
        emit ProfileSet(brainId, name, ensName, rewardAddress);
    }

    /**
     * @notice Sets Brain `brainId`'s registration fee (in wei of BASED) for later registrants.
     * Only the Brain's wallet.
     */
    function setRegistrationFee(uint256 brainId, uint256 fee) external onlyBrainWallet(brainId) {
        BrainConfig storage c = _config(brainId);
        c.feeSet = true;
        c.registrationFee = fee;
        emit RegistrationFeeSet(brainId, fee);
    }

    /**
     * @notice Sets Brain `brainId`'s prices in BASED (wei) per 1,000 compute units and its context
     * limit in compute units (positive). Only the Brain's wallet.
     */
    function setPricing(
        uint256 brainId,
        uint128 promptPricePer1k,
        uint128 completionPricePer1k,
        uint32 contextLimit
    ) external onlyBrainWallet(brainId) {
        if (contextLimit == 0) revert InvalidContextLimit();
        BrainConfig storage c = _config(brainId);
        (c.promptPricePer1k, c.completionPricePer1k, c.contextLimit) = (
            promptPricePer1k,
            completionPricePer1k,
            contextLimit
        );
        emit PricingSet(brainId, promptPricePer1k, completionPricePer1k, contextLimit);
    }

    // ─────────────────────────────────────────── Internals ───────────────────────────────────────────

    /// @dev Reverts unless Brain `brainId` is active and the caller is its mirrored BasedAI wallet.
    function _checkBrainWallet(uint256 brainId) private view {
        Brain storage b = _brains[brainId];
        if (!b.active) revert BrainNotActive(brainId);
        if (msg.sender != b.basedWallet) revert NotBrainWallet(brainId, msg.sender);
    }

    /// @dev Brain `brainId`'s configuration of its current `configEpoch`.
    function _config(uint256 brainId) private view returns (BrainConfig storage) {
        return _configs[brainId][_epochs[brainId].config];
    }

    /// @dev Whether a task change is pending and its notice period has passed.
    function _pendingDue(BrainConfig storage c) private view returns (bool) {
        uint64 at = c.taskEffectiveAt;
        return at != 0 && block.timestamp >= at;
    }

    /// @dev Reverts if `s` is longer than `max` bytes.
    function _checkLength(string calldata s, uint256 max) private pure {
        if (bytes(s).length > max) revert StringTooLong(bytes(s).length, max);
    }

    /**
     * @dev BRAIN_EVENT: apply the snapshot if it is newer than the last one applied. A new Brain on
     * the id (a freed id minted again) starts a new generation: the snapshot is active and the
     * previous one was inactive, or its class or unlock time differ (a stake Brain's unlock time is
     * fixed for its life; burn and reserved Brains are never freed), which also catches a re-mint
     * whose deactivation snapshot was never applied. The owner's configuration is reset to a fresh
     * Brain's when the mirrored owner or wallet changes or a generation starts (decisions.md).
     */
    function _handle(bytes32, Message calldata message) internal override {
        (uint256 brainId, address owner, uint8 class, uint64 unlockAt, address basedWallet, bool active) = abi
            .decode(message.payload, (uint256, address, uint8, uint64, address, bool));
        Brain storage b = _brains[brainId];
        uint64 lastNonce = b.lastNonce;
        if (message.nonce <= lastNonce) {
            emit BrainSnapshotIgnored(brainId, message.nonce, lastNonce);
            return;
        }
        if (lastNonce != 0) {
            bool newBrain = active && (!b.active || class != b.class || unlockAt != b.unlockAt);
            if (newBrain || owner != b.owner || basedWallet != b.basedWallet) {
                Epochs storage e = _epochs[brainId];
                if (newBrain) emit GenerationStarted(brainId, ++e.generation);
                emit ConfigReset(brainId, ++e.config);
            }
        }
        _brains[brainId] = Brain(owner, class, unlockAt, active, basedWallet, message.nonce);
        emit BrainMirrored(brainId, owner, class, unlockAt, basedWallet, active, message.nonce);
    }
}
